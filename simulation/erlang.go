package simulation

import (
	"math"
	"time"
)

// ErlangC is the probability that a call has to wait in an M/M/c queue
// with agents servers and a offered load of erlangs (arrival rate × mean
// service time). It is 1 when the queue is unstable (erlangs ≥ agents).
//
// It goes through the Erlang B recursion B(k) = A·B(k−1) / (k + A·B(k−1))
// rather than the textbook sum of A^k/k!, whose terms overflow a float64
// beyond about 170 agents; every step of the recursion stays in [0, 1].
func ErlangC(agents int, erlangs float64) float64 {
	if agents <= 0 || erlangs >= float64(agents) {
		return 1
	}
	if erlangs <= 0 {
		return 0
	}
	b := 1.0 // Erlang B with no servers: every call is blocked
	for k := 1; k <= agents; k++ {
		b = erlangs * b / (float64(k) + erlangs*b)
	}
	rho := erlangs / float64(agents)
	return b / (1 - rho*(1-b))
}

// ErlangCServiceLevel is the fraction of calls answered within the
// threshold in that M/M/c queue, where service is the mean time an agent
// spends on a call (handle time plus wrap-up):
// 1 − C(c, A)·exp(−(c − A)·within/service). It is 0 when the queue is
// unstable: the line then grows without bound and, in the long run, almost
// nobody is answered in time.
func ErlangCServiceLevel(agents int, erlangs float64, service, within time.Duration) float64 {
	if agents <= 0 || erlangs >= float64(agents) || service <= 0 {
		return 0
	}
	c := ErlangC(agents, erlangs)
	return 1 - c*math.Exp(-(float64(agents)-erlangs)*within.Seconds()/service.Seconds())
}

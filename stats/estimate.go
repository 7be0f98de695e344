package stats

import (
	"math"
	"time"
)

// Traffic lights and their Korean labels, as the public status page shows
// them.
const (
	LightGreen  = "green"
	LightYellow = "yellow"
	LightRed    = "red"
)

// Label is the Korean word for a light: 원활 (smooth), 지연 (delayed),
// 혼잡 (congested).
func Label(light string) string {
	switch light {
	case LightGreen:
		return "원활"
	case LightYellow:
		return "지연"
	}
	return "혼잡"
}

// LightFor is the traffic light of an estimated wait against a service
// level threshold: green within it, yellow up to three times it, red
// beyond. A queue nobody staffs is red whatever the estimate says.
func LightFor(estimate, threshold time.Duration, staffed bool) string {
	switch {
	case !staffed:
		return LightRed
	case estimate <= threshold:
		return LightGreen
	case estimate <= 3*threshold:
		return LightYellow
	}
	return LightRed
}

// ErlangC is the probability that an arrival has to wait in an M/M/n queue
// (Poisson arrivals, exponential handle times, n servers, no abandonment)
// offered a erlangs of load: the Erlang C formula, computed through the
// numerically stable Erlang B recursion. An overloaded queue (a ≥ n) waits
// with certainty.
func ErlangC(n int, a float64) float64 {
	if n <= 0 || a >= float64(n) {
		return 1
	}
	if a <= 0 {
		return 0
	}
	b := 1.0 // Erlang B with 0 servers
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	rho := a / float64(n)
	return b / (1 - rho*(1-b))
}

// ErlangCWait is the mean wait of all arrivals in that M/M/n queue, for a
// mean handle time h: C(n, a)·h/(n − a). It is +Inf when a ≥ n.
func ErlangCWait(n int, a float64, h time.Duration) time.Duration {
	if n <= 0 || a >= float64(n) {
		return time.Duration(math.MaxInt64)
	}
	w := ErlangC(n, a) * h.Seconds() / (float64(n) - a)
	return seconds(w)
}

// ErlangCServiceLevel is the fraction of calls answered within the
// threshold in that M/M/n queue, where service is the mean time an agent
// spends on a call (handle time plus wrap-up):
// 1 − C(n, a)·exp(−(n − a)·within/service). It is 0 when the queue is
// overloaded: the line then grows without bound and, in the long run,
// almost nobody is answered in time.
func ErlangCServiceLevel(n int, a float64, service, within time.Duration) float64 {
	if n <= 0 || a >= float64(n) || service <= 0 {
		return 0
	}
	return 1 - ErlangC(n, a)*math.Exp(-(float64(n)-a)*within.Seconds()/service.Seconds())
}

// erlangCFrac extends ErlangC and its mean wait to a fractional number of
// servers (agents shared with other queues): the waiting probability is
// interpolated linearly between the neighbouring whole numbers of servers
// and the mean wait is that probability times h/(n − a), as in the whole
// case. The wait is in seconds, +Inf when overloaded.
func erlangCFrac(n, a, h float64) (pWait, wait float64) {
	if n <= 0 || a >= n {
		return 1, math.Inf(1)
	}
	lo, hi := math.Floor(n), math.Ceil(n)
	p := ErlangC(int(hi), a)
	if lo != hi {
		f := n - lo
		p = ErlangC(int(lo), a)*(1-f) + p*f
	}
	return p, p * h / (n - a)
}

// exactTerms is how many terms of the position sum are added one by one;
// the rest is a midpoint integral, which is exact to well under a second
// that far down a line.
const exactTerms = 128

// positionWait is the expected wait, in seconds, of a contact at position k
// (1 = next) in a line served by n busy servers with mean handle time h,
// where each contact waiting ahead leaves on its own at rate theta (per
// second; 0 means nobody abandons). Moving up from m contacts ahead to
// m − 1 takes an exponential time of rate n/h + m·theta (a service
// completion or an abandonment ahead), so the wait is
// Σ_{m=0}^{k−1} 1 / (n/h + m·theta). With theta = 0 it is k·h/n: the
// position-conditional wait of the Erlang C model (M/M/n, FIFO).
func positionWait(k int, n, h, theta float64) float64 {
	if k <= 0 {
		return 0
	}
	if n <= 0 || h <= 0 {
		return math.Inf(1)
	}
	base := n / h
	if theta <= 0 {
		return float64(k) / base
	}
	sum := 0.0
	m := 0
	for ; m < k && m < exactTerms; m++ {
		sum += 1 / (base + float64(m)*theta)
	}
	if m < k {
		// ∫_{m−½}^{k−½} dx / (base + x·theta)
		lo := base + (float64(m)-0.5)*theta
		hi := base + (float64(k)-0.5)*theta
		sum += math.Log(hi/lo) / theta
	}
	return sum
}

// seconds converts float seconds to a Duration, saturating.
func seconds(s float64) time.Duration {
	if math.IsInf(s, 1) || s >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	if s <= 0 || math.IsNaN(s) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// ceilSeconds is d in whole seconds, rounded up (a wait of 0.2 s is shown
// as 1 s, never as "no wait").
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

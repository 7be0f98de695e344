// Package simulation is a simulated contact centre over the real router: it
// answers staffing questions ("how many agents for 120 calls an hour at 80 %
// answered within 20 s?") by driving tellonce's own router package with a
// fake clock, no server and no database.
//
// One queue with the longest-idle strategy; Poisson arrivals; exponential
// handle times; a fixed wrap-up after each call; optionally exponential
// patience (callers who hang up while waiting). Agents are logged in and
// available for the whole run and accept every offer at once. Each staffing
// level is one discrete-event run: the next thing to happen is either the
// simulation's own next event (an arrival, a call ending, a caller hanging
// up) or the router's next deadline (a wrap-up ending), and the clock jumps
// straight to it.
//
// Every level of a range sees the same callers: arrival times, handle times
// and patience are drawn from three seeded streams in arrival order, so the
// levels differ only in staffing (common random numbers), and the same seed
// gives the same report.
//
// Next to each level's simulated figures stands the Erlang C prediction of
// its service level (M/M/c without abandonment), computed here; see
// docs/simulation.md for how to read the two together.
//
// RunScenario answers a second question: a day of many agencies read from
// a scenario file (ParseScenario, LoadScenario), replayed over
// replications in three worlds — as written with its overflow rules,
// separate centres, one pooled centre — with every figure's 95 %
// confidence interval and the Erlang C or Erlang A figure where the model
// allows. A scenario's agents may follow a staffing by hour, decline or
// miss a share of their offers, answer several queues as teams with
// skills; its callers may need a skill, be transferred to another
// agency's queue (their wait across both calls is one figure) or take a
// callback offered past an estimated wait.
package simulation

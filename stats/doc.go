// Package stats owns tellonce's live statistics and wait estimation: per
// queue and per agent figures for the wallboard (GET /v1/stats/queues,
// /v1/stats/agents and the stream), the estimated wait and traffic light
// citizens see (agents.Estimator, GET /v1/status) and the Prometheus
// gauges of the same.
//
// # Inputs
//
// Observe takes the router's events once the journal has committed them
// (the server calls it from the journal's Deliver path, next to the
// WebSocket hub); it updates today's counters and the estimator's moving
// averages under a short lock and never does I/O. Live figures — who is
// waiting, the longest wait, agents by state — are read from the router's
// snapshots. Load rebuilds today's counters from the case log (tables
// cases, contacts, requeued_legs and case_events of migration 0002) at
// start, so a restart keeps the day's numbers.
//
// The live figures are computed at most once per Interval (1 s) and shared
// by every reader: the HTTP endpoints, the stream, the public status, the
// gauges and Estimate, which the hub calls for every queued frame.
//
// # Definitions
//
// A leg is one contact in one queue: a new contact, the new leg a transfer
// makes in its target queue (cold or warm), or a contact that went back to
// its queue after its agent was lost (re-queued). "Today" is the calendar
// day in Config.Location (Asia/Seoul by default: the counters start again
// at midnight KST); each happening counts on the day it happened, so a leg
// enqueued at 23:59 and answered at 00:01 is offered yesterday and
// answered today.
//
//   - offered: legs that entered the queue.
//   - answered: legs accepted by an agent; their wait is enqueued → answered,
//     the time in this queue's line (a transferred leg's wait starts at the
//     transfer, not at the case's start).
//   - abandoned: legs that ended unanswered because the citizen left
//     (disposition "abandoned"). A citizen who hangs up while talking to
//     an agent ends a handled leg, not an abandoned one.
//   - abandoned_before_threshold: of those, the ones that waited no longer
//     than the SLA threshold.
//   - transferred_out: legs of the queue that ended in a completed transfer
//     (cold, or warm once the target accepted); transferred (the
//     contract's name) is the same number. transferred_in: completed
//     transfers into the queue, a cold one when it is made, a warm one when
//     its target accepts.
//   - handled: answered legs that ended (completed, transferred, or the
//     citizen left), not those that went back to the line; handle time is
//     answered → ended. Wrap-up is not part of it: the router does not time
//     wrap-up per contact (it is the queue's fixed wrapup_s).
//   - asa_s: mean wait of the answered legs; aht_s: mean handle time of the
//     handled legs; null while there are none.
//   - service_level_pct: 100 × answered within the threshold ÷ (answered +
//     abandoned after the threshold). The threshold is the queue's
//     sla.answer_within_s, as it is when read (waits are kept by the second,
//     so changing the threshold re-reads the whole day). A wait counts as
//     within when it is ≤ the threshold. Citizens who abandoned within the
//     threshold are in neither part: they gave up before the queue could
//     have met or missed its target. Legs still waiting count once they are
//     answered or abandoned. Null while the denominator is zero.
//   - Per agent: state and time in it (since the displayed state last
//     changed — busy and wrap-up included, which the router does not date),
//     handled legs and their mean handle time.
//   - Per case, the citizen's total wait across all legs (CitizenWait): the
//     time some leg was waiting while no leg was with an agent — a cold
//     transfer adds the next queue's wait, a warm transfer adds nothing
//     while the first agent still holds the citizen. Cases that closed
//     today are counted for the queue they ended in, with the mean total
//     wait of all of them and of the transferred ones
//     (citizen_wait_avg_s, transferred_citizen_wait_avg_s).
//
// # History
//
// For the wallboard's charts of the day, every queue gets one sample a
// minute (History, GET /v1/stats/queues/history): waiting and the longest
// wait, whether the queue was closed (outside its opening hours, column
// closed of migration 0011), and today's answered, abandoned and service
// level so far, as the
// first computation of the live figures in that minute found them (Run
// computes them every second, so a sample is at most a second late; a
// minute in which nothing computed has no sample). Sampling rides on the
// computation and costs a map lookup per queue except once a minute. The
// samples belong to the day, so they start again at midnight; in memory
// there are at most 1,440 per queue (28 bytes each).
//
// The history survives a restart. RunHistory writes each minute's samples
// of every queue to the table queue_samples (migration 0007) in one
// insert, as soon as they are taken but off the computation that takes
// them (the computation only signals, without waiting). A write that
// fails is logged and retried with the next minute's; the samples stay in
// memory meanwhile, and writing one twice changes nothing. Load reads
// today's saved samples back at start, so a restarted server's history
// runs from midnight with a gap only for the minutes no server was
// running (or whose samples it could not save before it stopped).
// The case log could not have rebuilt them: it cannot tell how many were
// waiting at a past minute (offers and booked callbacks are not in it).
// The first sample after a restart carries the day's counters rebuilt by
// Load, so the lines of answered, abandoned and service level continue at
// the right height. Saved samples are deleted after
// Config.HistoryRetention, 8 days by default.
//
// # Reports
//
// BuildReport computes the same figures over any dates, per queue, agency
// or agent and per 15 minutes, hour or day (ReportQuery), from the case
// log's rows of those dates (transcripts.ReadRange) rather than from the
// counters: the definitions above, applied per interval (each happening in
// the interval it happened in), plus occupancy — time handling contacts
// over the interval, per agent who handled any. A report of a day agrees
// with that day's counters (TestReportAgreesWithToday).
//
// # The estimate
//
// The model is Erlang C's — M/M/n: Poisson arrivals, exponential handle
// times, n interchangeable servers, first come first served — but, rather
// than Erlang C's long-run average over all states, it conditions on the
// state the router shows now, which is exactly known. In M/M/n a contact at
// position k (k − 1 ahead of it) with every server busy is answered after
// k service completions, each coming at rate n/h, so its expected wait is
// k·h/n. Abandonment is added as in Erlang A: every contact ahead leaves on
// its own at rate θ, so moving up from m ahead takes 1/(n/h + m·θ) on
// average and the wait is Σ_{m=0}^{k−1} 1/(n/h + m·θ). A new arrival's
// estimate is that of position waiting+1, or 0 when nobody waits and an
// agent has a free slot for the queue's contacts now.
//
// The inputs, per queue:
//
//   - h, the time a server spends per contact: the moving average of handle
//     times (weight 0.02 per contact, starting from a 3-minute prior that
//     fades over the first few contacts) plus the queue's wrap-up time.
//   - n, the servers: every agent who works the queue (available, busy or
//     wrapping up; connected or still holding contacts) counts for one
//     voice slot, or MaxChats chat slots in a chat-only queue (a chat's
//     measured handle time already reflects the agent's concurrency), or
//     1 + (MaxChats − 1)·(share of chats among arrivals) in a queue that
//     takes both. An agent in several queues is shared among them in
//     proportion to each queue's offered load λ·h (plus a small floor, so
//     an idle queue keeps some of its agents).
//   - θ, abandonments per second per waiting contact: the abandonments
//     divided by the seconds waited by the legs that left the line (maximum
//     likelihood for exponential patience), both as moving sums with a
//     30-minute time constant.
//   - λ, the arrival rate, a moving average with a 5-minute time constant;
//     it weighs shared agents and gives the Erlang C figures shown next to
//     the estimate (p_wait, erlang_c_wait_s) for supervisors.
//
// Assumptions, and which way they err: handle times are treated as
// exponential and servers as interchangeable (skills and languages that
// make only some agents eligible make real waits longer); overflow help
// from other queues is not counted (longer); priorities and re-queued
// contacts that jump ahead after the estimate was given are not foreseen
// (longer real waits); offers that time out or are declined add real wait
// the model does not see. See BENCHMARKS.md for the estimate against the
// realised wait in a simulation.
//
// The light: green when a new arrival's estimate is within the queue's
// sla.answer_within_s (20 s when unset), yellow up to three times that,
// red beyond, and red whenever nobody staffs the queue (the estimate is
// then unknown: null in JSON, MaxEstimate from Estimate). Estimates are
// capped at MaxEstimate (1 hour) and rounded up to whole seconds.
package stats

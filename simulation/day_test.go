package simulation

import (
	"context"
	"math"
	"testing"
	"time"
)

// playDay runs one replication of one world and returns the finished day.
func playDay(t *testing.T, s Scenario, w World) *day {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatalf("scenario: %v", err)
	}
	d, err := newDay(s, w, 0)
	if err != nil {
		t.Fatalf("newDay: %v", err)
	}
	if err := d.run(context.Background()); err != nil {
		t.Fatalf("run: %v", err)
	}
	return d
}

// line is one agency with one queue of fixed-length calls and nobody
// hanging up, for cases that can be followed by hand.
func line(perHour, handleS float64) Scenario {
	return Scenario{Name: "line", HoursMeasured: 3, Replications: 2, Seed: 1, Agencies: []Agency{{ID: "a",
		Queues: []Queue{{ID: "a.voice", ArrivalsPerHour: []float64{perHour},
			Handle: Dist{Kind: DistFixed, MeanS: handleS}, SLAS: 20}}}}}
}

// With one agent on shift in the first and third hours and none in the
// second, nobody is answered in the second hour, a call that runs over the
// first hour's end is finished, and the agent-time on shift is two hours.
func TestStaffingByHour(t *testing.T) {
	t.Parallel()
	s := line(10, 300)
	s.Agencies[0].Queues[0].Staffing = []int{1, 0, 1}
	d := playDay(t, s, WorldSilos)
	if got := d.staffed[0]; got != 7200 {
		t.Errorf("staffed %.0f agent-seconds; want 7200", got)
	}
	waitedForShift, finishedLate := 0, 0
	for _, c := range d.calls {
		if c.state == abandoned {
			t.Fatalf("caller arriving at %s hung up; nobody has patience here", c.arrived)
		}
		if c.reached >= time.Hour && c.reached < 2*time.Hour {
			t.Errorf("caller answered at %s, in the hour with nobody on shift", c.reached)
		}
		if c.arrived >= time.Hour && c.arrived < 2*time.Hour {
			waitedForShift++
		}
		if c.reached < time.Hour && c.reached+c.handle > time.Hour {
			finishedLate++
		}
	}
	if waitedForShift == 0 || finishedLate != 1 {
		t.Errorf("%d callers arrived in the empty hour and %d calls ran past the first shift's end; want some and one",
			waitedForShift, finishedLate)
	}
	t.Logf("%d callers waited for the next shift, %d calls ran past the shift's end", waitedForShift, finishedLate)
	// Occupancy is busy ÷ staffed: five-minute calls at 10 an hour keep
	// one agent 83 % busy, and the third hour also serves the second's.
	tl := d.tally()
	if occ := 100 * tl.busy[0] / tl.staffed[0]; occ < 80 || occ > 101 {
		t.Errorf("occupancy %.1f %%; want near full", occ)
	}
}

// An agent who lets half their offers time out costs each caller a whole
// number of 20 s offer timeouts: on a quiet line with one agent, every
// wait is a multiple of 20 s and some are not zero.
func TestMissedOffersCostTheOfferTimeout(t *testing.T) {
	t.Parallel()
	s := line(2, 60)
	s.Agencies[0].Queues[0].Agents, s.Agencies[0].Queues[0].MissPct = 1, 50
	d := playDay(t, s, WorldSilos)
	missed := 0
	for _, c := range d.calls {
		w := (c.reached - c.arrived).Seconds()
		if n := w / 20; n != math.Trunc(n) {
			t.Errorf("caller at %s waited %.3f s; want a multiple of the 20 s offer timeout", c.arrived, w)
		}
		if w > 0 {
			missed++
		}
	}
	if missed == 0 || missed == len(d.calls) || d.missed == 0 {
		t.Errorf("%d of %d callers met a missed offer (%d misses); want some but not all", missed, len(d.calls), d.missed)
	}
}

// A declined caller is held for an agent who has not declined them, even
// a busy one (the router's rule), so declines cost time only when there is
// such an agent. A lone agent gets their declined caller straight back:
// the day has exactly the waits of the same day without declines. With
// two agents the declined caller waits for the other one, and the same
// day's total wait grows.
func TestDeclinedOffers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		agents int
		same   bool
	}{{1, true}, {2, false}} {
		s := line(20, 120)
		s.Agencies[0].Queues[0].Agents = tc.agents
		plain := playDay(t, s, WorldSilos)
		s.Agencies[0].Queues[0].DeclinePct = 50
		d := playDay(t, s, WorldSilos)
		if d.declined == 0 {
			t.Fatalf("%d agents: no offer was declined", tc.agents)
		}
		if len(d.calls) != len(plain.calls) {
			t.Fatalf("%d agents: %d callers with declines, %d without; want the same callers", tc.agents, len(d.calls), len(plain.calls))
		}
		var total, want time.Duration
		for i, c := range d.calls {
			total += c.reached - c.arrived
			want += plain.calls[i].reached - plain.calls[i].arrived
			if tc.same && c.reached != plain.calls[i].reached {
				t.Errorf("1 agent: caller %d answered at %s with declines, %s without", i, c.reached, plain.calls[i].reached)
			}
		}
		if !tc.same && total <= want {
			t.Errorf("2 agents: total wait %s with declines, %s without; want longer", total, want)
		}
		t.Logf("%d agents: %d declines; total wait %s, %s without", tc.agents, d.declined, total, want)
	}
}

// twoAgencies: agency a's line sends every caller on to agency b's line
// after a fixed minute; b has callers of its own and one agent kept 60 %
// busy (75 % between separate centres, with the retelling), so its line
// is often not empty.
func twoAgencies() Scenario {
	return Scenario{Name: "transfer", HoursMeasured: 3, Replications: 2, Seed: 1, Agencies: []Agency{
		{ID: "a", Queues: []Queue{{ID: "a.voice", Agents: 2, ArrivalsPerHour: []float64{6},
			Handle: Dist{Kind: DistFixed, MeanS: 60}, SLAS: 20,
			Transfer: &Transfer{SharePct: 100, To: "b.voice", RetellS: 90}}}},
		{ID: "b", Queues: []Queue{{ID: "b.voice", Agents: 1, ArrivalsPerHour: []float64{6},
			Handle: Dist{Kind: DistFixed, MeanS: 180}, SLAS: 20}}},
	}}
}

// A transfer makes a second leg in the target queue: on one router a leg
// of the same case that tells nothing again, between separate centres a
// new call that takes retell_s longer. The citizen's wait is both legs'
// waits together, counted in the queue they first called.
func TestTransfers(t *testing.T) {
	t.Parallel()
	s := twoAgencies()
	waits := map[World]time.Duration{}
	for _, w := range []World{WorldWritten, WorldSilos} {
		d := playDay(t, s, w)
		var sum tally
		citizens, secondWait := 0, time.Duration(0)
		for k, c := range d.calls {
			if c.stream != 0 || c.first != k {
				continue
			}
			if c.next < 0 {
				t.Fatalf("%s: caller %d of a.voice was not transferred; the share is 100 %%", w, k)
			}
			n := d.calls[c.next]
			if n.stream != 1 || n.first != k {
				t.Fatalf("%s: second leg %+v; want b.voice's, of caller %d", w, n, k)
			}
			want := c.handle2
			if w == WorldSilos {
				want += 90 * time.Second
			}
			if n.handle != want {
				t.Errorf("%s: second leg's handle %s; want %s", w, n.handle, want)
			}
			if sameCase := n.caseID == c.caseID; sameCase != (w == WorldWritten) {
				t.Errorf("%s: caller %d's legs in cases %s and %s", w, k, c.caseID, n.caseID)
			}
			citizens++
			sum.CitizenWaitS += (c.left - c.arrived + n.left - n.arrived).Seconds()
			secondWait += n.left - n.arrived
		}
		tl := d.tally()
		got := tl.queues[0]
		if got.Citizens != citizens || got.Transferred != citizens {
			t.Errorf("%s: a.voice counts %d citizens, %d transferred; want %d and %d", w, got.Citizens, got.Transferred, citizens, citizens)
		}
		if math.Abs(got.CitizenWaitS-sum.CitizenWaitS) > 1e-6 {
			t.Errorf("%s: citizens' total wait %.3f s; want %.3f s", w, got.CitizenWaitS, sum.CitizenWaitS)
		}
		if tl.queues[1].Citizens != tl.queues[1].Offered-citizens {
			t.Errorf("%s: b.voice counts %d citizens of %d legs; want its own callers only", w, tl.queues[1].Citizens, tl.queues[1].Offered)
		}
		waits[w] = secondWait
	}
	// The tell-once gain: on one router the transferred leg is ranked by
	// its case's age, ahead of callers who came later.
	if waits[WorldWritten] >= waits[WorldSilos] {
		t.Errorf("transferred callers waited %s in b.voice on one router, %s as a new call; want less", waits[WorldWritten], waits[WorldSilos])
	}
	t.Logf("second legs' wait: %s on one router, %s between separate centres", waits[WorldWritten], waits[WorldSilos])
}

// A caller who needs a skill is answered only by an agent who has it.
func TestSkills(t *testing.T) {
	t.Parallel()
	s := line(30, 120)
	q := &s.Agencies[0].Queues[0]
	q.Agents, q.Needs = 2, []Need{{Skill: "lang:en", Level: 2, SharePct: 20}}
	s.Agencies[0].Teams = []Team{{ID: "a.english", Agents: 1, Queues: map[string]int{"a.voice": 1}, Skills: map[string]int{"lang:en": 2}}}
	for _, w := range []World{WorldSilos, WorldPooled} {
		d := playDay(t, s, w)
		needing, byTeam := 0, 0
		for _, c := range d.calls {
			cr := d.crews[d.crewOf[c.agent]]
			if cr.id == "a.english" {
				byTeam++
			}
			if c.needs == nil {
				continue
			}
			needing++
			if cr.id != "a.english" {
				t.Errorf("%s: caller needing %v answered by %s of %s", w, c.needs, c.agent, cr.id)
			}
		}
		if needing == 0 || byTeam <= needing {
			t.Errorf("%s: %d callers needed English, the team took %d; want some, and the team to take others too", w, needing, byTeam)
		}
	}
}

// A callback is offered only when the estimated wait passes after_s; the
// caller who takes it hangs up at once (no wait on hold, no abandoning)
// and is reached when an agent takes their place in line.
func TestCallbacks(t *testing.T) {
	t.Parallel()
	s := line(25, 120)
	q := &s.Agencies[0].Queues[0]
	q.Agents, q.PatienceS, q.Callback = 1, 60, &Callback{AfterS: 150, AcceptPct: 100}
	d := playDay(t, s, WorldSilos)
	callbacks := 0
	for k, c := range d.calls {
		if !c.callback {
			continue
		}
		callbacks++
		if c.left != c.arrived || c.state == abandoned || c.reached <= c.arrived {
			t.Errorf("callback caller %d: on hold until %s, arrived %s, reached %s, state %d; want no hold and reached later",
				k, c.left, c.arrived, c.reached, c.state)
		}
	}
	if callbacks == 0 {
		t.Fatalf("no callback was taken")
	}
	// With one agent and two-minute calls, a callback needs two callers
	// ahead (2 × 120 s > 150 s): the first caller of the day, who finds
	// the agent free, never gets one.
	if d.calls[0].callback {
		t.Errorf("the first caller took a callback with nobody ahead")
	}
	tl := d.tally().queues[0]
	if tl.Callbacks == 0 || tl.CallbackWaitS <= 0 {
		t.Errorf("tally: %d callbacks, %.0f s to reach them; want some", tl.Callbacks, tl.CallbackWaitS)
	}
	t.Logf("%d of %d callers took a callback", callbacks, len(d.calls))
}

// Between separate centres nobody helps another agency, teams included:
// a team of agency a that also answers b's line takes only a's callers
// there.
func TestSeparateCentresKeepTeamsHome(t *testing.T) {
	t.Parallel()
	s := twoAgencies()
	s.Agencies[0].Queues[0].Transfer = nil
	s.Agencies[0].Teams = []Team{{ID: "a.both", Agents: 2, Queues: map[string]int{"a.voice": 1, "b.voice": 1}}}
	for _, w := range []World{WorldWritten, WorldSilos} {
		d := playDay(t, s, w)
		helped := 0
		for _, c := range d.calls {
			if c.stream == 1 && c.agent != "" && d.crews[d.crewOf[c.agent]].agency == 0 {
				helped++
			}
		}
		if (helped > 0) != (w == WorldWritten) {
			t.Errorf("%s: agency a's team took %d of b's callers", w, helped)
		}
	}
}

package loadgen

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tellonce/web"
)

// progressLog records the phases a run reported.
type progressLog struct {
	mu     sync.Mutex
	phases map[string]Progress // the last report of each phase
}

func (p *progressLog) add(pr Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phases == nil {
		p.phases = map[string]Progress{}
	}
	p.phases[pr.Phase] = pr
}

func (p *progressLog) last(phase string) (Progress, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.phases[phase]
	return pr, ok
}

// adminClient logs the test server's admin in.
func adminClient(t *testing.T, url string) *client {
	t.Helper()
	c, err := (&client{base: url, hc: http.DefaultClient}).login(context.Background(), "admin", testAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkReport(t *testing.T, rep Report, contacts int) {
	t.Helper()
	if !rep.OK() {
		var b strings.Builder
		_ = rep.Print(&b)
		t.Fatalf("the run was not clean:\n%s", b.String())
	}
	for name, l := range map[string]Latencies{"post": rep.Post, "offer": rep.Offer, "assign": rep.Assign} {
		if l.N != contacts {
			t.Errorf("%s latencies: %d samples, want %d", name, l.N, contacts)
		}
		if l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
			t.Errorf("%s latencies out of order: %+v", name, l)
		}
	}
	if rep.Assign.P50 < rep.Offer.P50 {
		t.Errorf("assigned (p50 %s) before offered (p50 %s)?", rep.Assign.P50, rep.Offer.P50)
	}
	if rep.OfferRate <= 0 || rep.PostRate <= 0 {
		t.Errorf("rates: %g POSTs/s, %g offers/s", rep.PostRate, rep.OfferRate)
	}
}

// TestRun drives 20 agents and 100 voice contacts through a real server on
// each backend, and checks the report, the progress and the cleanup.
func TestRun(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ts := startServer(t, backend)
			var prog progressLog
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := Run(ctx, Config{
				URL: ts.URL, AdminPassword: testAdminPassword,
				Agents: 20, Queues: 4, Contacts: 100, Rate: 400, Concurrency: 8,
				Duration: 30 * time.Second, LoginsPerAddr: 4, Progress: prog.add,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, rep, 100)
			if rep.Agents != 20 || rep.Queues != 4 || rep.Channel != "voice" {
				t.Errorf("report header: %d agents, %d queues, %s", rep.Agents, rep.Queues, rep.Channel)
			}
			for phase, total := range map[string]int{"create users": 21, "log in": 20, "connect": 20, "contacts": 100, "cleanup": 21 + 4 + 1} {
				p, ok := prog.last(phase)
				if !ok || p.Done != total || p.Total != total {
					t.Errorf("progress of %q: last %+v (seen %t), want %d of %d", phase, p, ok, total, total)
				}
			}
			var b strings.Builder
			if err := rep.Print(&b); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"POST sent → offer", "100 posted, 100 created, 100 offered, 100 ended", "errors: none"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("the printed report lacks %q:\n%s", want, b.String())
				}
			}

			// Cleanup: the agency, its users and sockets are gone.
			admin := adminClient(t, ts.URL)
			err = admin.do(ctx, http.MethodGet, "/v1/agencies/lg-"+rep.RunID, nil, nil)
			if ae := (*APIError)(nil); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
				t.Errorf("the run's agency after cleanup: %v, want 404", err)
			}
			var users struct {
				Items []struct{ Username string } `json:"items"`
			}
			if err := admin.do(ctx, http.MethodGet, "/v1/users?agency=lg-"+rep.RunID, nil, &users); err == nil && len(users.Items) > 0 {
				t.Errorf("%d users of the run left", len(users.Items))
			}
			if !waitFor(5*time.Second, func() bool { return ts.srv.Hub().Stats().Agents == 0 }) {
				t.Errorf("%d agent sockets still open", ts.srv.Hub().Stats().Agents)
			}
		})
	}
}

// TestFleetDrivesTwiceAndChat keeps one fleet for two phases (as the
// benchmark does), on the chat channel of a server whose chat limit is
// raised for the test, as fast as possible.
func TestFleetDrivesTwiceAndChat(t *testing.T) {
	ts := startServer(t, "sqlite", func(c *web.Config) { c.ChatBurst = 1000 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := Setup(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 6, Queues: 2, Channel: "chat", MaxChats: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	for range 2 {
		rep, err := f.Drive(ctx, Load{Contacts: 30, Concurrency: 4, Duration: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, rep, 30)
	}
}

// TestSurgeDrill posts chats much faster than four agents who keep each
// for a moment can take them, each from its own citizen's address at the
// server's default chat limit, and follows every chat on its citizen
// socket: a line builds, every citizen hears where they stand and the end,
// no place goes up, and freed agents get the next caller.
func TestSurgeDrill(t *testing.T) {
	ts := startServer(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const contacts = 80
	rep, err := Run(ctx, Config{
		URL: ts.URL, AdminPassword: testAdminPassword,
		Agents: 4, Queues: 1, Channel: "chat", Contacts: contacts, Concurrency: 16,
		Hold: 40 * time.Millisecond, Citizens: true, Duration: 45 * time.Second, LoginsPerAddr: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, contacts)
	cz := rep.Citizens
	if cz == nil {
		t.Fatal("no citizens in the report")
	}
	if cz.Followed != contacts || cz.Told != contacts || cz.Ended != contacts || cz.Joined != contacts {
		t.Errorf("citizens %+v; want all %d followed, told where they stand, joined and ended", *cz, contacts)
	}
	if cz.PeakPosition < 10 {
		t.Errorf("longest line heard %d; want a line of 10 or more (4 agents, %d chats at once)", cz.PeakPosition, contacts)
	}
	if cz.PlacesMean < 1 || cz.PlacesMax < 2 || cz.FirstWord.N != contacts {
		t.Errorf("places heard: mean %.1f, max %d, first word %d samples; want places heard as the line moved",
			cz.PlacesMean, cz.PlacesMax, cz.FirstWord.N)
	}
	if rep.FreeToOffer.N == 0 {
		t.Error("no freed agent got a caller who was already waiting")
	}
	var b strings.Builder
	if err := rep.Print(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agent freed → next offer", "citizen socket → where they stand",
		"citizens: 80 followed their chat", "places that went up: 0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the printed report lacks %q:\n%s", want, b.String())
		}
	}
	t.Log("\n" + b.String())
	if !waitFor(5*time.Second, func() bool { return ts.srv.Hub().Stats().Citizens == 0 }) {
		t.Errorf("%d citizen sockets still open", ts.srv.Hub().Stats().Citizens)
	}
}

// TestLoginsWaitOutTheLimit: with every login from one address and a
// server allowing two, the rest wait for Retry-After and get through.
func TestLoginsWaitOutTheLimit(t *testing.T) {
	ts := startServer(t, "sqlite", func(c *web.Config) { c.LoginBurstAddr, c.LoginRefill = 2, 100*time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 3, Queues: 1, Contacts: 5,
		LoginsPerAddr: -1, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, 5)
}

// TestSpreadLogins: with the server's per-address login burst at 3 and two
// agents per source address, 12 agents log in without one 429.
func TestSpreadLogins(t *testing.T) {
	ts := startServer(t, "sqlite", func(c *web.Config) { c.LoginBurstAddr, c.LoginRefill = 3, time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 12, Queues: 3, Contacts: 12, LoginsPerAddr: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, 12)
	if rep.Setup > 10*time.Second || time.Since(start) > 15*time.Second {
		t.Errorf("setup took %s: logins waited for the limit?", rep.Setup)
	}
}

// TestDurationBound: contacts nobody can take are abandoned when the
// phase's time is up, and reported.
func TestDurationBound(t *testing.T) {
	ts := startServer(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := Setup(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 2, Queues: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The agents go on break: nothing is offered.
	for _, a := range f.agents {
		id, wait := a.expect()
		if err := a.send(stateOut{Type: "state", ID: id, State: "break"}); err != nil {
			t.Fatal(err)
		}
		if err := <-wait; err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	// The bound leaves the POSTs time to be answered on a loaded machine:
	// a POST cut by it may have made a contact the drive never heard of.
	rep, err := f.Drive(ctx, Load{Contacts: 3, Concurrency: 3, Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("Drive took %s, bound 3s (+ abandoning)", el)
	}
	if rep.OK() || rep.Created != 3 || rep.Offered != 0 || rep.Unfinished != 3 || rep.Errors["unfinished when the phase ended (abandoned)"] != 3 {
		t.Errorf("report: %+v", rep)
	}
	// They were abandoned: the queue is empty again, so it can be deleted.
	if !waitFor(5*time.Second, func() bool {
		w, err := ts.rt.Waiting(f.queues[0])
		return err == nil && len(w) == 0
	}) {
		t.Error("the abandoned contacts still wait")
	}
	if err := f.Close(ctx); err != nil {
		t.Errorf("cleanup after abandoning: %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	for _, c := range []Config{
		{URL: "http://example.com:8080", AdminPassword: "x"},
		{URL: "http://10.0.0.1:8080", AdminPassword: "x"},
		{URL: "http://127.0.0.1:8080/v1", AdminPassword: "x"},
		{URL: "ftp://127.0.0.1", AdminPassword: "x"},
		{URL: "http://127.0.0.1:8080"},
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Channel: "fax"},
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Agents: 2, Queues: 3},
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Contacts: -1},
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Rate: -5},
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Hold: -time.Second},
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Citizens: true}, // voice has no citizen socket
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Channel: "chat", Citizens: true, CitizensPerAddr: -1},
		{URL: "http://127.0.0.1:8080", AdminPassword: "x", Channel: "chat", Citizens: true, Contacts: MaxCitizens + 1},
	} {
		if _, err := Setup(context.Background(), c); err == nil {
			t.Errorf("Setup(%+v) accepted", c)
		}
	}
	for raw, v4 := range map[string]bool{"http://127.0.0.1:1": true, "http://localhost:1": true, "http://[::1]:1": false, "http://127.9.9.9:1/": true} {
		if _, got, err := checkLoopback(raw); err != nil || got != v4 {
			t.Errorf("checkLoopback(%s) = %t, %v; want %t", raw, got, err, v4)
		}
	}
}

func TestSummarize(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	l := summarize(s)
	want := Latencies{N: 100, Mean: 50500 * time.Microsecond, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond,
		P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if l != want {
		t.Errorf("summarize = %+v, want %+v", l, want)
	}
	if one := summarize([]time.Duration{7}); one.P50 != 7 || one.P99 != 7 || one.Max != 7 {
		t.Errorf("one sample: %+v", one)
	}
	if (summarize(nil) != Latencies{}) {
		t.Error("no samples: want zero")
	}
}

func TestSourceAddr(t *testing.T) {
	if got := sourceAddr(5, 7, 0).String(); got != "127.5.7.1" {
		t.Errorf("sourceAddr(5,7,0) = %s", got)
	}
	if got := sourceAddr(5, 7, 254).String(); got != "127.5.8.1" {
		t.Errorf("sourceAddr(5,7,254) = %s", got)
	}
}

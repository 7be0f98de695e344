package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/clocktest"
)

// End-to-end tests of what happens when people or networks do not behave:
// an agent who never answers an offer, a console whose connection drops,
// a client that stops reading.

// TestOfferTimeoutGoesToTheNextAgent: an agent who lets an offer run out is
// told it was revoked, goes not_ready, and the contact is offered to the
// next agent with its case.
func TestOfferTimeoutGoesToTheNextAgent(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		queue := s.createQueue(t, "gov110", "timeout", obj{"offer_timeout_s": 5, "wrapup_s": 0})
		s.createAgent(t, "e2e.sleepy", "gov110", 3, queue)
		s.createAgent(t, "e2e.awake", "gov110", 3, queue)

		sleepy, _ := s.agentDesk(t, "e2e.sleepy", e2eAgentPassword)
		sleepy.ack(t, obj{"type": "state", "state": "available"})
		c := s.createChat(t, queue, "timeout-citizen", "차량 등록 문의")
		offer := sleepy.awaitFunc(t, "the first offer", typed("offer", "contact.contact_id", c.ContactID))
		expires, err := time.Parse(time.RFC3339Nano, offer.str("expires_at"))
		if err != nil {
			t.Fatalf("offer expires_at %q: %v", offer.str("expires_at"), err)
		}
		enqueued, err := time.Parse(time.RFC3339Nano, offer.str("contact", "enqueued_at"))
		if err != nil {
			t.Fatalf("offer's contact enqueued_at %q: %v", offer.str("contact", "enqueued_at"), err)
		}
		if d := expires.Sub(enqueued); d < 4500*time.Millisecond || d > 5500*time.Millisecond {
			t.Errorf("offer made at once expires %s after the contact came; want the queue's 5s", d)
		}

		// The other agent arrives while the offer is pending: the contact is
		// not offered to two agents at once.
		awake, _ := s.agentDesk(t, "e2e.awake", e2eAgentPassword)
		awake.ack(t, obj{"type": "state", "state": "available"})

		revoked := sleepy.awaitFunc(t, "offer_revoked", typed("offer_revoked", "offer_id", offer.str("offer_id")))
		if revoked.str("reason") != "offer_timeout" {
			t.Errorf("offer_revoked %s; want reason offer_timeout", revoked)
		}
		if early := expires.Sub(revoked.at); early > 250*time.Millisecond {
			t.Errorf("offer revoked %s before it expired", early)
		}
		sleepy.awaitFunc(t, "state not_ready", typed("state", "state", "not_ready", "reason", "offer_timeout"))

		next := awake.awaitFunc(t, "the second offer", typed("offer", "contact.contact_id", c.ContactID))
		if next.get("case", "events") == nil || next.str("case", "case_id") != c.CaseID {
			t.Errorf("second offer %s; want the case", next)
		}
		if next.at.Before(revoked.at.Add(-250 * time.Millisecond)) {
			t.Errorf("the second agent was offered the contact before the first offer ended")
		}
		// The late accept is refused; the awake agent's works.
		sleepy.refused(t, obj{"type": "accept", "offer_id": offer.str("offer_id")}, "not_found")
		awake.ack(t, obj{"type": "accept", "offer_id": next.str("offer_id")})
		if st := s.contactStatus(t, c); st.Status != "assigned" {
			t.Errorf("contact = %+v; want assigned", st)
		}
		// The sleepy agent stays not_ready: a new contact goes to nobody
		// but the awake agent, who still has room.
		c2 := s.createChat(t, queue, "timeout-citizen-2", "두 번째")
		awake.awaitFunc(t, "offer of the second contact", typed("offer", "contact.contact_id", c2.ContactID))
		for _, f := range sleepy.Frames() {
			if f.Type == "offer" && f.str("contact", "contact_id") == c2.ContactID {
				t.Errorf("a not_ready agent was offered %s", c2.ContactID)
			}
		}
	})
}

// TestAgentReconnect: a console that drops and comes back within the
// reconnect grace finds its contact with the whole case and the citizen's
// conversation continues; one that stays away past the grace loses the
// contact to the head of the queue, where the next agent gets it with its
// context.
func TestAgentReconnect(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("within the grace", func(t *testing.T) {
			s := startServer(t, backend, "--reconnect-grace", "30s")
			token := s.loginDemo(t, "kim.minji")
			agent, _ := s.agentSocket(t, "kim.minji", token)
			agent.ack(t, obj{"type": "state", "state": "available"})
			c, citizen := assignedChat(t, s, agent, "gov110.general", "reconnect-1", "건강보험 자격 문의")
			citizen.ack(t, obj{"type": "say", "text": "직장을 옮겼어요"})
			agent.awaitFunc(t, "the citizen's message", typed("message", "text", "직장을 옮겼어요"))

			agent.Drop()
			back, hello := s.agentSocket(t, "kim.minji", token)
			var desk []struct {
				Contact struct {
					ContactID string `json:"contact_id"`
					Status    string `json:"status"`
				} `json:"contact"`
				Case caseDoc `json:"case"`
			}
			if err := hello.decode(&desk, "contacts"); err != nil {
				t.Fatal(err)
			}
			if len(desk) != 1 || desk[0].Contact.ContactID != c.ContactID || desk[0].Contact.Status != "assigned" {
				t.Fatalf("hello after the reconnect %s; want contact %s assigned", hello, c.ContactID)
			}
			if _, ok := desk[0].Case.find("message", "직장을 옮겼어요"); !ok {
				t.Errorf("restored case lacks the conversation:%s", desk[0].Case.describe())
			}

			// The conversation continues on the new socket, both ways.
			citizen.ack(t, obj{"type": "say", "text": "아직 계세요?"})
			back.awaitFunc(t, "the citizen on the new socket", typed("message", "text", "아직 계세요?"))
			back.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": "네, 계속 안내해 드릴게요"})
			citizen.awaitFunc(t, "the agent after the reconnect", typed("message", "text", "네, 계속 안내해 드릴게요"))
			for _, f := range citizen.Frames() {
				if f.Type == "ended" || f.Type == "transferred" || f.Type == "queued" && f.str("position") != "1" && f.str("position") != "0" {
					t.Errorf("the citizen noticed the agent's reconnect: %s", f)
				}
			}
			if st := s.contactStatus(t, c); st.Status != "assigned" {
				t.Errorf("contact = %+v; want still assigned", st)
			}
		})

		t.Run("after the grace", func(t *testing.T) {
			s := startServer(t, backend, "--reconnect-grace", "2s")
			first := s.availableAgent(t, "kim.minji")
			c, citizen := assignedChat(t, s, first, "gov110.general", "reconnect-2", "국민연금 수령 문의")
			first.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": "연금 수령 나이를 확인해 드릴게요"})
			first.ack(t, obj{"type": "note", "case_id": c.CaseID, "text": "1965년생, 수령 개시 확인 필요"})
			// Two more citizens wait behind: the first agent is on a break
			// and nobody else is available.
			first.ack(t, obj{"type": "state", "state": "break"})
			waiting := []contactAnswer{
				s.createChat(t, "gov110.general", "reconnect-3", "뒤에서 기다림"),
				s.createChat(t, "gov110.general", "reconnect-4", "더 뒤에서 기다림"),
			}
			second, _ := s.agentDesk(t, "park.seoyeon", "tellonce-demo")

			dropped := time.Now()
			first.Drop()
			// After the grace the contact is back, at the head of the line.
			clocktest.EventuallyNil(t, "contact back in the queue", waitTime, func() error {
				if st := s.contactStatus(t, c); st.Status != "queued" || st.Position != 1 {
					return fmt.Errorf("contact is %s at %d", st.Status, st.Position)
				}
				return nil
			})
			if d := time.Since(dropped); d < 2*time.Second {
				t.Errorf("contact requeued %s after the drop; want after the 2s grace", d)
			}
			for i, w := range waiting {
				if st := s.contactStatus(t, w); st.Position != i+2 {
					t.Errorf("waiting contact %d at position %d; want %d", i, st.Position, i+2)
				}
			}
			citizen.awaitFunc(t, "queued at the head", typed("queued", "position", "1"))

			second.ack(t, obj{"type": "state", "state": "available"})
			offer := second.await(t, "offer")
			if offer.str("contact", "contact_id") != c.ContactID {
				t.Fatalf("the next agent was offered %s; want the re-queued %s first", offer.str("contact", "contact_id"), c.ContactID)
			}
			var cs caseDoc
			if err := offer.decode(&cs, "case"); err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct{ typ, text string }{
				{"contact_created", "국민연금 수령 문의"}, {"message", "연금 수령 나이를 확인해 드릴게요"},
				{"note", "1965년생, 수령 개시 확인 필요"}, {"requeued", ""},
			} {
				if _, ok := cs.find(want.typ, want.text); !ok {
					t.Errorf("offer after the grace lacks the %s %q:%s", want.typ, want.text, cs.describe())
				}
			}
			if len(cs.Legs) < 2 || cs.Legs[0].Agent != "kim.minji" || cs.Legs[0].Disposition != "requeued" {
				t.Errorf("legs after the grace:%s; want kim.minji's leg ended as requeued", cs.describe())
			}
			if offer.str("contact", "context", "summary") != "국민연금 수령 문의" {
				t.Errorf("offer context %v; want it intact", offer.get("contact", "context"))
			}
			second.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
			citizen.awaitFunc(t, "agent_joined of the second agent", typed("agent_joined", "agent_name", "박서연", "agency", "gov110"))
			second.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": "이어서 도와드리겠습니다"})
			citizen.awaitFunc(t, "the new agent's message", typed("message", "text", "이어서 도와드리겠습니다"))

			// The first agent, back too late, has an empty desk.
			_, hello := s.agentDesk(t, "kim.minji", "tellonce-demo")
			if n := len(hello.list("contacts")); n != 0 || hello.str("state") != "offline" {
				t.Errorf("late hello %s; want no contacts, offline", hello)
			}
		})
	})
}

// TestSlowClientIsCutWithoutStallingOthers: an agent console that stops
// reading while twenty citizens keep typing to it is disconnected — cut
// with 1013 "too slow" when its bounded send buffer fills, or dropped when
// a write to it times out, whichever comes first — while another agent and
// citizen keep talking promptly; the agent reconnects to a full desk, since
// the cut loses frames, not contacts.
//
// Nothing in it depends on how fast the machine is: the stalled socket's
// pings go unanswered, so the pong wait is set far beyond the test (it
// cannot be what ends the socket); the flood's commits may take many
// seconds on a loaded machine, so every answer is awaited for up to
// patience, and the server waits as long for durability before it answers
// "unavailable"; the write timeout is longer still, so that a fan-out that
// waited for the stalled socket would fail the other chat's wait whatever
// the load.
func TestSlowClientIsCutWithoutStallingOthers(t *testing.T) {
	const (
		pongWait     = 10 * time.Minute
		writeTimeout = time.Minute
		ackTimeout   = time.Minute
		patience     = 45 * time.Second // < writeTimeout
		// How long the flood may take to fill the stalled socket's
		// buffers on a loaded machine; seconds on a quiet one.
		floodBound = 4 * time.Minute
	)
	eachBackend(t, func(t *testing.T, backend string) {
		// At debug level the server logs every socket whose reading ended.
		// The citizens' own message limit is lifted: the flood is the point.
		s := startServer(t, backend, "--log-level", "debug", "--chat-message-burst", "10000", "--chat-message-refill", "1ms",
			"--ws-pong-wait", pongWait.String(), "--ws-write-timeout", writeTimeout.String(), "--ws-ack-timeout", ackTimeout.String())
		// Another agent talks with another citizen.
		other := s.availableAgent(t, "kim.minji")
		fastContact, fast := assignedChat(t, s, other, "gov110.general", "fast-citizen", "빠른 연결")

		// The busy agent takes twenty chats, then stops reading.
		const chats = 20
		queue := s.createQueue(t, "gov110", "busy", obj{"wrapup_s": 0})
		s.createAgent(t, "e2e.busy", "gov110", chats, queue)
		token := s.login(t, "e2e.busy", e2eAgentPassword)
		busy, _, err := dialWith(smallReceiveBuffer, "e2e.busy", s.wsURL("/v1/agent/ws"), bearerHeader(token))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(busy.Close)
		busy.await(t, "hello")
		busy.ack(t, obj{"type": "state", "state": "available"})
		citizens := make([]*wsClient, chats)
		for i := range citizens {
			_, citizens[i] = assignedChat(t, s, busy, queue, fmt.Sprintf("typist-%02d", i), "긴 글")
		}
		busy.Pause()

		// Every citizen types long messages, one at a time each, so the
		// journal commits them in groups; the busy agent gets them all.
		long := strings.Repeat("𝄞", 3990) // 16 KB a frame, within the 4000-character bound
		var flood atomic.Int64
		stop := make(chan struct{})
		errs := make(chan error, chats)
		var wg sync.WaitGroup
		for i, citizen := range citizens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := citizen.SendWithin(obj{"type": "say", "text": fmt.Sprintf("%d.%d %s", i, n, long)}, patience); err != nil && !notConfirmedYet(err) {
						errs <- err
						return
					}
					flood.Add(1)
				}
			}()
		}
		// The flood goes on until the server lets the agent's socket go.
		cut := func() bool {
			logs := s.logs.String()
			return strings.Contains(logs, "too slow") && strings.Contains(logs, "agent=e2e.busy")
		}
		gone := func() bool {
			return strings.Contains(s.logs.String(), `msg="websocket read ended" kind=agent agent=e2e.busy`)
		}
		var worst time.Duration
		for start := time.Now(); !gone(); {
			if time.Since(start) > floodBound {
				close(stop)
				wg.Wait()
				t.Fatalf("the stalled agent was still connected after %s and %d frames", floodBound, flood.Load())
			}
			select {
			case err := <-errs:
				close(stop)
				wg.Wait()
				t.Fatal(err)
			default:
			}
			text := fmt.Sprintf("빠른 대화 %d", flood.Load())
			sent := time.Now()
			// An "unavailable" answer (the journal's own wait for the
			// commit ran out) still delivers the message once committed.
			if _, err := other.SendWithin(obj{"type": "say", "contact_id": fastContact.ContactID, "text": text}, patience); err != nil && !notConfirmedYet(err) {
				close(stop)
				wg.Wait()
				t.Fatal(err)
			}
			if _, err := fast.AwaitFunc(text, patience, typed("message", "text", text)); err != nil {
				close(stop)
				wg.Wait()
				t.Fatal(err)
			}
			worst = max(worst, time.Since(sent))
		}
		close(stop)
		wg.Wait()
		// Each round trip includes a commit shared with the flood, slow on
		// a loaded machine; a fan-out that waited for the stalled socket
		// would hold every delivery for the write timeout, longer than the
		// waits above.
		t.Logf("%s: %d flood frames, cut as too slow: %v; the other chat's worst round trip was %s", backend, flood.Load(), cut(), worst)
		// After the cut, the others still flow.
		fast.ack(t, obj{"type": "say", "text": "흐름 확인"})
		other.awaitFunc(t, "a message after the cut", typed("message", "text", "흐름 확인"))

		// The stalled socket, read at last, ends: the server let it go,
		// with 1013 when the close frame fitted in the full socket, else
		// without a close frame: 1006 when the client reads to the end,
		// none (0) when its pong to a queued ping met the closed socket
		// first and the rest was reset. Never a normal close, nor a
		// sign-out.
		busy.Resume()
		code, err := busy.Ended(waitTime)
		if err != nil {
			t.Fatalf("the stalled agent was not disconnected: %v", err)
		}
		if code != websocket.CloseTryAgainLater && code != websocket.CloseAbnormalClosure && code != 0 {
			t.Errorf("the busy agent's socket ended with close code %d; want 1013 (too slow), 1006 or none (dropped)", code)
		}
		// Nothing was lost for good: a reconnect finds the whole desk, and
		// the citizens' words are in their cases.
		// Its hello carries every message of the flood: megabytes, slow to
		// build on a loaded machine.
		back, _, err := dialWith(websocket.Dialer{HandshakeTimeout: patience}, "e2e.busy", s.wsURL("/v1/agent/ws"), bearerHeader(token))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(back.Close)
		hello, err := back.AwaitFunc("hello", patience, func(f frame) bool { return f.Type == "hello" })
		if err != nil {
			t.Fatal(err)
		}
		if n := len(hello.list("contacts")); n != chats {
			t.Errorf("after the cut the agent's hello holds %d contacts; want %d", n, chats)
		}
		citizens[0].ack(t, obj{"type": "say", "text": "다시 연결되셨나요?"})
		back.awaitFunc(t, "a citizen after the reconnect", typed("message", "text", "다시 연결되셨나요?"))
	})
}

// notConfirmedYet is an error frame "unavailable": the change was not
// confirmed committed within the journal's wait, on a machine loaded
// enough; it is committed later all the same.
func notConfirmedYet(err error) bool {
	var fe *frameError
	return errors.As(err, &fe) && fe.Code == "unavailable"
}

package main

import (
	"net/http"
	"testing"
)

// TestPhoneEdgeCall drives a call as a SIP edge does, over real sockets: the
// gateway opens a voice contact; the agent who accepts is rung at their
// sip_uri (connect carries it); their phone does not answer, so the call
// goes back to the head of the line and the next agent gets it; that
// agent's phone hangs up at the end, which ends the contact with wrap-up
// and sends no hangup back.
func TestPhoneEdgeCall(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		queue := s.createQueue(t, "gov110", "phones", obj{"channels": []string{"voice"}, "wrapup_s": 30})
		admin := s.admin(t)
		for name, phone := range map[string]string{"e2e.ringing": "sip:e2e.ringing@pbx.gov110.go.kr", "e2e.softphone": ""} {
			s.call(t, "POST", "/v1/users", admin, obj{"username": name, "name": "상담원 " + name,
				"password": e2eAgentPassword, "role": "agent", "agency": "gov110", "skills": obj{"lang:ko": 5},
				"queues": []obj{{"queue": queue, "level": 3}}, "sip_uri": phone}, http.StatusCreated, nil)
		}
		gwToken := s.loginDemo(t, "gateway")
		gateway := dial(t, "gateway", s.wsURL("/v1/gateway/ws"), bearerHeader(gwToken))
		gateway.await(t, "hello")

		first, _ := s.agentDesk(t, "e2e.ringing", e2eAgentPassword)
		first.ack(t, obj{"type": "state", "state": "available"})
		var c contactAnswer
		s.call(t, "POST", "/v1/contacts", gwToken, obj{"channel": "voice", "queue": queue,
			"caller": obj{"id": "+82-10-2222-3333", "name": "전화 민원인", "language": "ko"}}, http.StatusCreated, &c)
		offer := first.awaitFunc(t, "the call's offer", typed("offer", "contact.contact_id", c.ContactID))
		first.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
		conn := gateway.awaitFunc(t, "connect to the first agent", typed("connect", "contact_id", c.ContactID))
		if conn.str("agent") != "e2e.ringing" || conn.str("phone") != "sip:e2e.ringing@pbx.gov110.go.kr" ||
			conn.str("queue") != queue || conn.str("agency") != "gov110" {
			t.Errorf("gateway got %s; want connect to e2e.ringing's phone in %s of gov110", conn, queue)
		}

		// A later call waits behind; the missed one goes back ahead of it.
		var later contactAnswer
		s.call(t, "POST", "/v1/contacts", gwToken, obj{"channel": "voice", "queue": queue,
			"caller": obj{"id": "+82-10-4444-5555", "name": "다음 민원인", "language": "ko"}}, http.StatusCreated, &later)
		gateway.ack(t, obj{"type": "connect_failed", "contact_id": c.ContactID, "result": "no_answer"})
		if f := first.awaitFunc(t, "contact_ended", typed("contact_ended", "contact_id", c.ContactID)); f.str("reason") != "missed" {
			t.Errorf("the first agent got %s; want contact_ended missed", f)
		}
		first.awaitFunc(t, "not_ready", typed("state", "state", "not_ready"))
		if st := s.contactStatus(t, c); st.Status != "queued" || st.Position != 1 {
			t.Errorf("the missed call is %s at %d; want queued first", st.Status, st.Position)
		}

		second, _ := s.agentDesk(t, "e2e.softphone", e2eAgentPassword)
		second.ack(t, obj{"type": "state", "state": "available"})
		offer = second.await(t, "offer")
		if offer.str("contact", "contact_id") != c.ContactID {
			t.Fatalf("the second agent was offered %s; want the missed call %s first", offer, c.ContactID)
		}
		second.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
		conn = gateway.awaitFunc(t, "connect to the second agent", typed("connect", "agent", "e2e.softphone"))
		if conn.str("contact_id") != c.ContactID || conn.str("phone") != "" {
			t.Errorf("gateway got %s; want connect of %s without a phone (the registered one)", conn, c.ContactID)
		}

		gateway.ack(t, obj{"type": "agent_hangup", "contact_id": c.ContactID})
		if f := second.awaitFunc(t, "contact_ended", typed("contact_ended", "contact_id", c.ContactID)); f.str("reason") != "completed" {
			t.Errorf("the second agent got %s; want contact_ended completed", f)
		}
		second.awaitFunc(t, "wrap-up", typed("state", "state", "wrapup"))
		// The edge closes the leg's recording as the leg ends: the case has
		// closed by then, and the entry joins it all the same.
		gateway.ack(t, obj{"type": "recording", "contact_id": c.ContactID, "file": "rec/" + c.ContactID + ".wav",
			"seconds": 75, "started_at": "2026-03-02T09:14:05+09:00"})

		if _, ok := fetchCase(t, s, admin, c.CaseID).find("requeued", "", "disposition", "missed", "result", "no_answer", "agent", "e2e.ringing"); !ok {
			t.Error("the case's timeline lacks the missed connect")
		}
		var cs caseDoc
		s.call(t, "GET", "/v1/cases/"+c.CaseID, admin, nil, http.StatusOK, &cs)
		if _, ok := cs.find("recording", "", "file", "rec/"+c.ContactID+".wav", "seconds", "75", "started_at", "2026-03-02T00:14:05Z"); !ok {
			t.Errorf("the case lacks the recording:%s", cs.describe())
		}
		if cs.Status != "closed" {
			t.Errorf("the case is %q; want closed", cs.Status)
		}
		// No hangup came back for the call its agent's phone ended: the
		// gateway's next frame is the answer to this one.
		gateway.refused(t, obj{"type": "agent_hangup", "contact_id": c.ContactID}, "not_found")
		if gateway.Saw(`"type":"hangup"`) {
			t.Error("the gateway got a hangup for the call its agent's phone ended")
		}
	})
}

// fetchCase reads a case over the API as token.
func fetchCase(t *testing.T, s *testServer, token, caseID string) caseDoc {
	t.Helper()
	var cs caseDoc
	s.call(t, "GET", "/v1/cases/"+caseID, token, nil, http.StatusOK, &cs)
	return cs
}

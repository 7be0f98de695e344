package main

import (
	"net/http"
	"testing"

	"tellonce/sql/sqltest"
)

// A returning caller over the real server: the gateway's second call from
// the same number reaches another agent with the first case in the offer's
// history; that agent may open it; and after a restart the restored call's
// offer shows it again.
func TestReturningCallerOverTheRealServer(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		dsn := sqltest.DSN(t, backend)
		s, stop := serveOn(t, dsn)
		gw := s.loginDemo(t, "gateway")
		call := func(s *testServer, summary string) contactAnswer {
			var c contactAnswer
			s.call(t, "POST", "/v1/contacts", gw, obj{"channel": "voice", "queue": "gov110.general",
				"caller":  obj{"id": "+82-10-2468-1357", "name": "다시 온 민원인", "language": "ko"},
				"context": obj{"summary": summary}}, http.StatusCreated, &c)
			return c
		}

		// earliest is the first earlier case an offer shows: case id, summary.
		earliest := func(f frame) (string, string) {
			l := f.list("history")
			if len(l) == 0 {
				return "", ""
			}
			m, _ := l[0].(map[string]any)
			id, _ := m["case_id"].(string)
			summary, _ := m["summary"].(string)
			return id, summary
		}

		lee := s.availableAgent(t, "lee.junho")
		first := call(s, "여권 발급 문의")
		offer := lee.awaitFunc(t, "the first call's offer", typed("offer", "contact.contact_id", first.ContactID))
		if offer.get("history") != nil {
			t.Errorf("a first-time caller's offer has history: %s", offer)
		}
		lee.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
		lee.ack(t, obj{"type": "end", "contact_id": first.ContactID, "disposition": "answered", "summary": "여권 발급 기간 안내"})

		kim := s.availableAgent(t, "kim.minji")
		second := call(s, "여권 수령 문의")
		offer = kim.awaitFunc(t, "the returning call's offer", typed("offer", "contact.contact_id", second.ContactID))
		if id, summary := earliest(offer); id != first.CaseID || summary != "여권 발급 기간 안내" {
			t.Fatalf("returning call's offer %s; want the first case %s in its history", offer, first.CaseID)
		}
		kimToken := s.loginDemo(t, "kim.minji")
		s.call(t, "GET", "/v1/cases/"+first.CaseID, kimToken, nil, http.StatusOK, nil)
		parkToken := s.loginDemo(t, "park.seoyeon")
		s.call(t, "GET", "/v1/cases/"+first.CaseID, parkToken, nil, http.StatusNotFound, nil)

		stop()
		s2, _ := serveOn(t, dsn)
		kim2 := s2.availableAgent(t, "kim.minji")
		offer = kim2.awaitFunc(t, "the restored call's offer", typed("offer", "contact.contact_id", second.ContactID))
		if id, _ := earliest(offer); id != first.CaseID {
			t.Errorf("after a restart the offer is %s; want the first case %s in its history", offer, first.CaseID)
		}
	})
}

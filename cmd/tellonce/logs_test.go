package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"tellonce/demo"
)

// The server's log keeps nothing personal: a whole chat — a citizen who
// gives their phone number and resident registration number in their
// name, their summary and their messages, an agent who answers, notes and
// ends the case, a supervisor who searches the transcripts for the
// number — and failed logins, one with a password typed into the user
// name field, leave none of it in the log, at debug level, in either log
// format. Log files are kept, shipped and read far more widely than the
// case log, and outlive its retention.
func TestServerLogKeepsNoPersonalData(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			logJourney(t, format)
		})
	}
}

func logJourney(t *testing.T, format string) {
	const (
		phone      = "010-5550-7391"
		phoneBare  = "01055507391"
		rrn        = "850314-2345678"
		rrnBare    = "8503142345678"
		rrnBack    = "2345678"
		name       = "한서윤 " + rrn
		summary    = "연락처 " + phone + " 주민번호 " + rrn + " 가족관계증명서"
		message    = "제 번호는 " + phone + "이고 주민등록번호는 " + rrn + "입니다"
		reply      = "확인했습니다. " + phone + " 번호로 문자 드리겠습니다"
		note       = "본인확인 완료 " + rrn
		ending     = "증명서 발급 안내, 회신 번호 " + phone
		typedWrong = "Pa55w0rd!-typed-as-user"
		wrongPass  = "not-the-password-9"
	)
	personal := map[string]string{
		"the phone number": phone, "the bare phone number": phoneBare, "the RRN": rrn,
		"the bare RRN": rrnBare, "the RRN's back half": rrnBack, "the caller's name": "한서윤",
		"the summary": "가족관계증명서", "the message": "주민등록번호는", "the reply": "문자 드리겠습니다",
		"the note": "본인확인", "the end summary": "회신 번호", "the password typed as a user name": typedWrong,
		"a password": wrongPass, "the demo password": demo.Password,
	}

	s := startServer(t, "sqlite", "--log-level", "debug", "--log-format", format)

	// Failed logins: a password in the user name field, then an agent's
	// wrong password; the same unknown name twice.
	for range 2 {
		status, _, err := s.request("POST", "/v1/sessions", "", obj{"username": typedWrong, "password": wrongPass})
		if err != nil || status != http.StatusUnauthorized {
			t.Fatalf("login as %q = %d, %v; want 401", typedWrong, status, err)
		}
	}
	if status, _, err := s.request("POST", "/v1/sessions", "", obj{"username": "kim.minji", "password": wrongPass}); err != nil ||
		status != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password = %d, %v; want 401", status, err)
	}

	// A chat that carries the numbers everywhere a citizen can put them.
	agent, _ := s.agentDesk(t, "kim.minji", demo.Password)
	agent.ack(t, obj{"type": "state", "state": "available"})
	req := chatRequest("gov110.general", phone, name, summary)
	req["callback_number"] = phoneBare
	var c contactAnswer
	s.call(t, "POST", "/v1/contacts", "", req, http.StatusCreated, &c)
	s.contactStatus(t, c) // the citizen's token in the query
	citizen := s.citizen(t, c)
	offer := agent.await(t, "offer")
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	citizen.await(t, "agent_joined")
	citizen.ack(t, obj{"type": "say", "text": message})
	agent.awaitFunc(t, "the citizen's message", typed("message", "from", "citizen"))
	agent.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": reply})
	citizen.awaitFunc(t, "the reply", typed("message", "from", "agent"))
	agent.ack(t, obj{"type": "note", "case_id": c.CaseID, "text": note})
	agent.ack(t, obj{"type": "end", "contact_id": c.ContactID, "disposition": "resolved", "summary": ending})
	citizen.await(t, "ended")

	// A supervisor with the pii permission looks the case up by the
	// number, and reads it.
	s.call(t, "POST", "/v1/users", s.admin(t), obj{"username": "sup.pii", "name": "개인정보 담당",
		"password": e2eAgentPassword, "role": "supervisor", "agency": "gov110", "pii": true}, http.StatusCreated, nil)
	sup := s.login(t, "sup.pii", e2eAgentPassword)
	s.call(t, "GET", "/v1/transcripts?q="+url.QueryEscape(phone), sup, nil, http.StatusOK, nil)
	s.call(t, "GET", "/v1/transcripts/"+c.CaseID, sup, nil, http.StatusOK, nil)

	citizen.Close()
	agent.Close()
	log := s.logs.String()
	if !strings.Contains(log, "login failed") || !strings.Contains(log, "/v1/transcripts") {
		t.Fatalf("the log lacks the failed logins or the requests: the scan below would prove nothing:\n%s", tail(log, 40))
	}
	for what, secret := range personal {
		if i := strings.Index(log, secret); i >= 0 {
			t.Errorf("the log holds %s %q: …%s…", what, secret, log[max(0, i-150):min(len(log), i+len(secret)+50)])
		}
	}
	for what, secret := range map[string]string{"citizen token": c.CitizenToken, "session token": sup} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds a %s", what)
		}
	}

	// What the log does keep of the failed logins: the existing user's
	// name, and one and the same hash for both tries of the unknown name.
	var failed []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "login failed") {
			failed = append(failed, line)
		}
	}
	unknown := regexp.MustCompile(`"?user_unknown"?[=:]"?([0-9a-f]+)`)
	var hashes []string
	for _, line := range failed {
		if m := unknown.FindStringSubmatch(line); m != nil {
			hashes = append(hashes, m[1])
		}
	}
	if len(failed) != 3 || len(hashes) != 2 || hashes[0] != hashes[1] {
		t.Errorf("failed logins logged as %q; want three lines, the unknown name's two with one hash", failed)
	}
	if !strings.Contains(strings.Join(failed, "\n"), "kim.minji") {
		t.Errorf("failed logins logged as %q; want the existing user's name", failed)
	}
}

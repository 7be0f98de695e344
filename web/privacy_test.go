package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// The agent's socket shows what the agent's pii permission allows: the
// server hands the permission to the hub with the request.
func TestAgentSocketFollowsThePIIPermission(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	body := chatBody("gov110.general", "pii-1")
	body["caller"] = map[string]any{"id": "010-1234-5678", "name": "홍길동"}
	body["context"] = map[string]any{"summary": "카드 4111 1111 1111 1111",
		"attributes": map[string]any{"010-1234-5678": "callback"}}
	var c created
	if r := h.do(http.MethodPost, "/v1/contacts", asAnon, body, withHeader("X-Forwarded-For", "198.51.100.7")); r.wantStatus(t, http.StatusCreated) {
		r.decode(t, &c)
	}
	// The agent is at the desk and holds the contact; hello brings it.
	if _, _, err := h.router.Connect(asAgent); err != nil {
		t.Fatal(err)
	}
	if _, err := h.router.SetState(asAgent, router.StateAvailable, ""); err != nil {
		t.Fatal(err)
	}
	cv, err := h.router.Contact(c.ContactID)
	if err != nil || cv.Status != router.StatusOffered {
		t.Fatalf("contact %+v (%v); want it offered", cv, err)
	}
	if _, err := h.router.Accept(asAgent, cv.OfferID); err != nil {
		t.Fatal(err)
	}
	hello := func() string {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(h, "/v1/agent/ws"),
			http.Header{"Authorization": {"Bearer " + h.tokens[asAgent]}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	got := hello()
	if strings.Contains(got, "1234-5678") || strings.Contains(got, "4111 1111") || !strings.Contains(got, "010-****-5678") {
		t.Errorf("an agent without pii gets %s; want the phone and card numbers masked", got)
	}
	h.do(http.MethodPatch, "/v1/users/"+asAgent, asAdmin, map[string]any{"pii": true}).wantStatus(t, http.StatusOK)
	if got := hello(); !strings.Contains(got, "010-1234-5678") || !strings.Contains(got, "4111 1111 1111 1111") {
		t.Errorf("an agent with pii gets %s; want the numbers as said", got)
	}
}

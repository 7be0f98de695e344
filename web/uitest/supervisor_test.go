package uitest

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
)

// statsServed reports whether this build serves live statistics (and
// transcript review): the endpoints answer 503 where they are not wired.
func served(t *testing.T, path string) bool {
	t.Helper()
	code := login(t, "admin", adminPassword).call("GET", path, nil, nil)
	return code != http.StatusServiceUnavailable
}

// The wallboard shows a queue's numbers changing, live: citizens arrive
// and one leaves, and the card follows without a reload.
func TestWallboardUpdatesLive(t *testing.T) {
	if !served(t, "/v1/stats/queues") {
		t.Fatal("GET /v1/stats/queues is not served: the wallboard has nothing to show")
	}
	b := newBrowser(t)
	sup := b.page("sup.kdca1339")
	sup.loginAs("sup.kdca1339", demoPassword)
	sup.navigate("/supervisor")
	const card = `[data-queue="kdca1339.vaccination"]`
	const waiting = card + ` [data-k="waiting"]`
	sup.waitFor("queue card", `!!document.querySelector(`+jsString(waiting)+`)`)
	sup.waitFor("live", `document.querySelector("#live-state")?.classList.contains("ok")`)
	before, err := strconv.Atoi(sup.text(waiting))
	if err != nil {
		t.Fatalf("waiting count %q: %v", sup.text(waiting), err)
	}
	offered := sup.text(card + ` [data-k="offered"]`)

	// Nobody of 1339 is logged in, so arrivals wait.
	var tokens []string
	for i := range 2 {
		id, token := openChatToken(t, "kdca1339.vaccination", fmt.Sprintf("wallboard-caller-%d", i))
		tokens = append(tokens, id+"?token="+token)
	}
	sup.waitText("two more waiting", waiting, strconv.Itoa(before+2))
	if got := sup.text(card + ` [data-k="offered"]`); got == offered {
		t.Errorf("offered today stayed %s after two arrivals", got)
	}
	sup.shot("wallboard-ko")

	// One leaves: the count comes down.
	c := &apiClient{t: t}
	if code := c.call("DELETE", "/v1/contacts/"+tokens[0], nil, nil); code != http.StatusNoContent {
		t.Fatalf("leave: %d", code)
	}
	sup.waitText("one fewer waiting", waiting, strconv.Itoa(before+1))
	sup.waitFor("chart drawn", `document.querySelectorAll("#chart-waiting path").length > 0`)
	sup.waitText("agents grid", "#agent-rows", "최유나")
	sup.noRawKeys()
}

// openChatToken opens a chat through the API and returns its id and the
// citizen's token.
func openChatToken(t *testing.T, queue, callerID string) (string, string) {
	t.Helper()
	c := &apiClient{t: t}
	var out struct {
		ContactID    string `json:"contact_id"`
		CitizenToken string `json:"citizen_token"`
	}
	body := map[string]any{"channel": "chat", "queue": queue,
		"caller": map[string]string{"id": callerID, "name": "시민", "language": "ko"}}
	if code := c.call("POST", "/v1/contacts", body, &out); code != http.StatusCreated {
		t.Fatalf("open chat in %s: %d", queue, code)
	}
	return out.ContactID, out.CitizenToken
}

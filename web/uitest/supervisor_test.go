package uitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// statsServed reports whether this build serves live statistics (and
// transcript review): the endpoints answer 503 where they are not wired.
func served(t *testing.T, path string) bool {
	t.Helper()
	code := login(t, "admin", adminPassword).call("GET", path, nil, nil)
	return code != http.StatusServiceUnavailable
}

// The wallboard charts the day from the server's history, then shows a
// queue's numbers changing, live: citizens arrive and one leaves, and the
// card follows without a reload.
func TestWallboardUpdatesLive(t *testing.T) {
	if !served(t, "/v1/stats/queues") {
		t.Fatal("GET /v1/stats/queues is not served: the wallboard has nothing to show")
	}
	b := newBrowser(t)

	// With the stream held back, nothing live ever arrives: a line of more
	// than one point in the waiting chart can only come from GET
	// /v1/stats/queues/history (the page's own fetch of the figures makes
	// one point).
	quiet := b.page("sup.kdca1339-no-stream")
	awaitHistory(t, quiet.loginAs("sup.kdca1339", demoPassword), "kdca1339.vaccination", 2)
	quiet.onNewDocument("hold back the stream", `window.EventSource = class { addEventListener() {} close() {} };`)
	quiet.navigate("/supervisor")
	quiet.waitFor("queue card", `!!document.querySelector('[data-queue="kdca1339.vaccination"]')`)
	quiet.waitFor("waiting chart drawn from history",
		`[...document.querySelectorAll("#chart-waiting path")].some((p) => p.getAttribute("d").includes("L"))`)
	if live := eval[bool](quiet, `document.querySelector("#live-state").classList.contains("ok")`); live {
		t.Error("the page without a stream says it is live")
	}
	quiet.noRawKeys()

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

// awaitHistory waits until the server's history of queue holds at least n
// samples. They come one a minute: on a server started less than n
// minutes ago this takes up to that long.
func awaitHistory(t *testing.T, c *apiClient, queue string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Duration(n)*time.Minute + 15*time.Second)
	for {
		var out struct {
			Items []struct {
				Points []json.RawMessage `json:"points"`
			} `json:"items"`
		}
		if code := c.call("GET", "/v1/stats/queues/history?queue="+queue, nil, &out); code != http.StatusOK {
			t.Fatalf("GET /v1/stats/queues/history?queue=%s: %d", queue, code)
		}
		if len(out.Items) == 1 && len(out.Items[0].Points) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the history of %s did not reach %d samples: %d items", queue, n, len(out.Items))
		}
		time.Sleep(time.Second)
	}
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

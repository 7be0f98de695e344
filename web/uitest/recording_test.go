package uitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"tellonce/recordings"
)

// A supervisor with the pii permission opens a call's case in review,
// plays its leg's recording (uploaded as the edge uploads one) at 1.5×:
// the audio element plays, its duration that of the file, and the access
// audit shows the playback.
func TestReviewPlaysARecording(t *testing.T) {
	if !served(t, "/v1/transcripts") {
		t.Fatal("GET /v1/transcripts is not served: there is no review to play in")
	}
	admin := login(t, "admin", adminPassword)
	n := time.Now().UnixNano() % 1_000_000
	slug, word := fmt.Sprintf("rec%d", n), fmt.Sprintf("녹음재생%d", n)
	queue := "gov110." + slug
	const pw = "recording-test-password"
	agentName, supName := fmt.Sprintf("rec.agent%d", n), fmt.Sprintf("rec.sup%d", n)
	mustStatus(t, "create the queue", http.StatusCreated, admin.call("POST", "/v1/agencies/gov110/queues",
		map[string]any{"id": slug, "name": "녹음 시험", "channels": []string{"voice"}}, nil))
	mustStatus(t, "create the agent", http.StatusCreated, admin.call("POST", "/v1/users", map[string]any{"username": agentName,
		"name": "녹음 상담사", "password": pw, "role": "agent", "agency": "gov110", "queues": []map[string]any{{"queue": queue}}}, nil))
	mustStatus(t, "create the supervisor", http.StatusCreated, admin.call("POST", "/v1/users", map[string]any{"username": supName,
		"name": "녹음 관리자", "password": pw, "role": "supervisor", "agency": "gov110", "pii": true}, nil))

	gw := login(t, "gateway", demoPassword)
	var call struct {
		ContactID string `json:"contact_id"`
		CaseID    string `json:"case_id"`
	}
	mustStatus(t, "put a call in line", http.StatusCreated, gw.call("POST", "/v1/contacts", map[string]any{"channel": "voice",
		"queue": queue, "caller": map[string]any{"id": "+821055501299", "name": "녹음 시민"},
		"context": map[string]any{"summary": word + " 문의"}}, &call))
	ws := answer(t, login(t, agentName, pw), call.ContactID)

	// The leg's recording, three seconds, uploaded as the edge does.
	const seconds = 3
	frames := seconds * recordings.SampleRate
	wav := bytes.NewBuffer(recordings.Header(int64(frames)))
	for i := range frames {
		v := int16(8000)
		if i/20%2 == 0 {
			v = -8000
		}
		wav.Write([]byte{byte(v), byte(v >> 8), byte(v), byte(v >> 8)})
	}
	name := call.CaseID + "_" + call.ContactID + "_" + time.Now().UTC().Format("20060102T150405.000Z") + ".wav"
	req, _ := http.NewRequest(http.MethodPut, baseURL+"/v1/contacts/"+call.ContactID+"/recordings/"+name, wav)
	req.Header.Set("Authorization", "Bearer "+gw.token)
	req.Header.Set("Content-Type", "audio/wav")
	req.Header.Set("X-Forwarded-For", newAddr())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	mustStatus(t, "upload the recording: "+string(body), http.StatusCreated, res.StatusCode)
	send(t, ws, map[string]any{"id": 3, "type": "end", "contact_id": call.ContactID, "disposition": "resolved", "summary": "녹음 확인"})

	b := newBrowser(t)
	sup := b.page("rec.sup")
	sup.loginAs(supName, pw)
	sup.navigate("/supervisor#review")
	sup.waitFor("review form", `!document.querySelector("#sec-review").hidden`)
	sup.typeInto("#s-q", word)
	sup.click(`#search-form button[type=submit]`)
	sup.waitFor("the case found", `!!document.querySelector("#results .result-card")`)
	sup.click("#results .result-card button")
	sup.waitFor("the player", `!!document.querySelector("#case-timeline .rec-player audio")`)
	sup.selectValue("#case-timeline .rec-speed", "1.5")
	gesture := true
	userGesture := func(p *runtime.EvaluateParams) { p.UserGesture = &gesture }
	eval[bool](sup, `document.querySelector("#case-timeline .rec-audio").play().then(() => true)`, chromedp.EvalAwaitPromise, userGesture)
	sup.waitFor("playing", `(() => { const a = document.querySelector("#case-timeline .rec-audio"); return !a.paused && a.currentTime > 0; })()`)
	if d := eval[float64](sup, `document.querySelector("#case-timeline .rec-audio").duration`); d < seconds-0.1 || d > seconds+0.1 {
		t.Errorf("the player's duration is %.2f s; want the file's %d s", d, seconds)
	}
	if r := eval[float64](sup, `document.querySelector("#case-timeline .rec-audio").playbackRate`); r != 1.5 {
		t.Errorf("playback rate %v; want the chosen 1.5", r)
	}
	sup.shot("review-recording-ko")
	sup.noRawKeys()

	var audit struct {
		Items []struct {
			User, Action, Query, Outcome string
		} `json:"items"`
	}
	mustStatus(t, "read the audit", http.StatusOK, admin.call("GET", "/v1/audit?case_id="+call.CaseID+"&action=read", nil, &audit))
	played := false
	for _, it := range audit.Items {
		played = played || it.User == supName && it.Outcome == "ok" && strings.HasPrefix(it.Query, "view=recording&")
	}
	if !played {
		t.Errorf("the audit of the case shows no playback by %s: %+v", supName, audit.Items)
	}
}

func mustStatus(t *testing.T, what string, want, got int) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d; want %d", what, got, want)
	}
}

// answer has agent take contactID on their socket; the socket stays
// open for what the test sends next.
func answer(t *testing.T, agent *apiClient, contactID string) *websocket.Conn {
	t.Helper()
	url := strings.Replace(baseURL, "http://", "ws://", 1) + "/v1/agent/ws"
	ws, res, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + agent.token}, "X-Forwarded-For": {agent.addr}})
	if err != nil {
		t.Fatalf("agent socket: %v (%v)", err, res)
	}
	t.Cleanup(func() { ws.Close() })
	send(t, ws, map[string]any{"id": 1, "type": "state", "state": "available"})
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var f struct {
			Type    string `json:"type"`
			OfferID string `json:"offer_id"`
			Contact struct {
				ContactID string `json:"contact_id"`
			} `json:"contact"`
		}
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for the offer of %s: %v", contactID, err)
		}
		if f.Type == "offer" && f.Contact.ContactID == contactID {
			send(t, ws, map[string]any{"id": 2, "type": "accept", "offer_id": f.OfferID})
			break
		}
	}
	for {
		var f struct {
			Type string          `json:"type"`
			Ref  json.RawMessage `json:"ref"`
		}
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for the accept's ack: %v", err)
		}
		if f.Type == "error" {
			t.Fatalf("accept refused: %s", f.Ref)
		}
		if f.Type == "ack" && string(f.Ref) == "2" {
			return ws
		}
	}
}

func send(t *testing.T, ws *websocket.Conn, v any) {
	t.Helper()
	if err := ws.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

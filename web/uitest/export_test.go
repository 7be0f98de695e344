package uitest

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tellonce/recordings"
)

// Review shows the transcript export and the recording download only to
// a supervisor with the export permission: without it the controls are
// absent and a note says why (Korean, then English); once an admin grants
// it, the next load shows them.
func TestReviewExportControlsFollowThePermission(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	n := time.Now().UnixNano() % 1_000_000
	slug, word := fmt.Sprintf("exp%d", n), fmt.Sprintf("내보내기시험%d", n)
	queue := "gov110." + slug
	const pw = "export-test-password"
	agentName, supName := fmt.Sprintf("exp.agent%d", n), fmt.Sprintf("exp.sup%d", n)
	mustStatus(t, "create the queue", http.StatusCreated, admin.call("POST", "/v1/agencies/gov110/queues",
		map[string]any{"id": slug, "name": "내보내기 시험", "channels": []string{"voice"}}, nil))
	mustStatus(t, "create the agent", http.StatusCreated, admin.call("POST", "/v1/users", map[string]any{"username": agentName,
		"name": "내보내기 상담사", "password": pw, "role": "agent", "agency": "gov110", "queues": []map[string]any{{"queue": queue}}}, nil))
	mustStatus(t, "create the supervisor", http.StatusCreated, admin.call("POST", "/v1/users", map[string]any{"username": supName,
		"name": "내보내기 관리자", "password": pw, "role": "supervisor", "agency": "gov110", "pii": true}, nil))

	// A call with a one-second recording, answered and ended.
	gw := login(t, "gateway", demoPassword)
	var call struct {
		ContactID string `json:"contact_id"`
		CaseID    string `json:"case_id"`
	}
	mustStatus(t, "put a call in line", http.StatusCreated, gw.call("POST", "/v1/contacts", map[string]any{"channel": "voice",
		"queue": queue, "caller": map[string]any{"id": "+821055501377", "name": "내보내기 시민"},
		"context": map[string]any{"summary": word + " 문의"}}, &call))
	ws := answer(t, login(t, agentName, pw), call.ContactID)
	name := call.CaseID + "_" + call.ContactID + "_" + time.Now().UTC().Format("20060102T150405.000Z") + ".wav"
	wav := append(recordings.Header(recordings.SampleRate), make([]byte, 4*recordings.SampleRate)...)
	req, _ := http.NewRequest(http.MethodPut, baseURL+"/v1/contacts/"+call.ContactID+"/recordings/"+name, bytes.NewReader(wav))
	req.Header.Set("Authorization", "Bearer "+gw.token)
	req.Header.Set("Content-Type", "audio/wav")
	req.Header.Set("X-Forwarded-For", newAddr())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	mustStatus(t, "upload the recording", http.StatusCreated, res.StatusCode)
	send(t, ws, map[string]any{"id": 3, "type": "end", "contact_id": call.ContactID, "disposition": "resolved", "summary": "내보내기 확인"})

	b := newBrowser(t)
	sup := b.page("exp.sup")
	sup.loginAs(supName, pw)
	openCase := func() {
		t.Helper()
		sup.navigate("/supervisor#review")
		sup.do("load afresh", chromedp.Reload()) // the same address again is no new load
		sup.waitFor("review form", `!document.querySelector("#sec-review").hidden`)
		sup.typeInto("#s-q", word)
		sup.click(`#search-form button[type=submit]`)
		sup.waitFor("the case found", `!!document.querySelector("#results .result-card")`)
		sup.click("#results .result-card button")
		sup.waitFor("the player", `!!document.querySelector("#case-timeline .rec-player audio")`)
	}
	const controls = `[!document.querySelector("#export-form").hidden, !!document.querySelector("#case-timeline .rec-download"), !document.querySelector("#export-denied").hidden]`

	openCase()
	if got := eval[[]bool](sup, controls); got[0] || got[1] || !got[2] {
		t.Errorf("without the export permission: export form shown %v, download shown %v, note shown %v; want only the note", got[0], got[1], got[2])
	}
	sup.waitText("the note in Korean", "#export-denied", "내보내기 권한")
	sup.noRawKeys()
	sup.selectValue("#lang", "en")
	sup.waitText("the note in English", "#export-denied", "export permission")

	mustStatus(t, "grant export", http.StatusOK, admin.call("PATCH", "/v1/users/"+supName, map[string]any{"export": true}, nil))
	openCase()
	if got := eval[[]bool](sup, controls); !got[0] || !got[1] || got[2] {
		t.Errorf("with the export permission: export form shown %v, download shown %v, note shown %v; want the form and the download", got[0], got[1], got[2])
	}
	sup.noRawKeys()
}

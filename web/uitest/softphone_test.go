package uitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// recordFrames keeps every frame the page sends on a WebSocket in
// window.sentFrames, from the next document on.
func (p *page) recordFrames() {
	p.b.t.Helper()
	p.onNewDocument("record sent frames", `window.sentFrames = [];
				const send = WebSocket.prototype.send;
				WebSocket.prototype.send = function (d) { try { window.sentFrames.push(JSON.parse(d)); } catch {} return send.call(this, d); };`)
}

// softphoneFrames are the softphone frames the page sent since it loaded.
func softphoneFrames(p *page) []map[string]any {
	return eval[[]map[string]any](p, `window.sentFrames.filter((f) => f.type === "softphone")`)
}

// An agent without a desk phone takes voice in the browser from the first
// hello on: the desk says so to the server, shows the switch on
// "browser" with no desk phone to pick, and no panel while no call is on.
// An agent with a desk phone (a sip_uri) starts on it and claims nothing;
// switching to the browser claims the softphone, and the choice outlives
// a reload; switching back releases it.
func TestSoftphoneDeviceSwitch(t *testing.T) {
	softphoneLine(t, "gov110", "uitest-sp-page", "소프트폰 시험 창구", "sp-dev")
	b := newBrowser(t)
	agent := b.page("sp-dev")
	agent.recordFrames()
	agent.loginAs("sp-dev", demoPassword)
	agent.navigate("/console")
	agent.waitFor("desk connected", `document.querySelector("#conn")?.classList.contains("ok")`)
	agent.waitFor("the softphone claimed after hello", `window.sentFrames.some((f) => f.type === "softphone" && f.on === true && !f.take)`)
	agent.waitFor("the server's yes", `window.tellonceSoftphone.state().on`)
	if st := eval[map[string]any](agent, `window.tellonceSoftphone.state()`); st["want"] != "browser" || st["on"] != true {
		t.Errorf("softphone state %v; want the browser, held, for an agent without a desk phone", st)
	}
	if !eval[bool](agent, `document.querySelector("#dev-browser").checked && document.querySelector("#dev-phone").disabled && !document.querySelector("#device").hidden`) {
		t.Error("the device switch does not show the browser chosen and no desk phone to pick")
	}
	if !eval[bool](agent, `document.querySelector("#softphone").hidden`) {
		t.Error("the softphone panel shows with no call")
	}
	agent.noRawKeys()

	admin := login(t, "admin", adminPassword)
	if code := admin.call("PATCH", "/v1/users/sp-dev", map[string]any{"sip_uri": "sip:lee.junho@pbx.example"}, nil); code != http.StatusOK {
		t.Fatalf("give sp-dev a desk phone: status %d", code)
	}
	t.Cleanup(func() { admin.call("PATCH", "/v1/users/sp-dev", map[string]any{"sip_uri": ""}, nil) })
	agent.do("reload", chromedp.Reload())
	agent.waitFor("desk on the desk phone", `document.querySelector("#conn")?.classList.contains("ok") && document.querySelector("#dev-phone").checked`)
	if frames := softphoneFrames(agent); len(frames) != 0 {
		t.Errorf("a desk on the desk phone sent %v after hello; want nothing", frames)
	}

	agent.click(`label[for="dev-browser"]`)
	agent.waitFor("the softphone claimed", `window.sentFrames.some((f) => f.type === "softphone" && f.on === true)`)
	agent.do("reload", chromedp.Reload())
	agent.waitFor("the browser kept", `document.querySelector("#dev-browser").checked && window.sentFrames.some((f) => f.type === "softphone" && f.on === true)`)
	agent.click(`label[for="dev-phone"]`)
	agent.waitFor("the softphone released", `window.sentFrames.some((f) => f.type === "softphone" && f.on === false) && !window.tellonceSoftphone.state().on`)

	// English words for the switch.
	agent.selectValue("#lang", "en")
	agent.waitText("switch in English", "#device", "Desk phone")
	agent.noRawKeys()
}

// callSeq gives each placed call a caller number of its own: one caller
// holds one place in a queue.
var callSeq atomic.Int32

// placeCall puts a phone call into queue as the demo gateway would, and
// returns its contact id.
func placeCall(t *testing.T, queue, caller string) string {
	t.Helper()
	gw := login(t, "gateway", demoPassword)
	var c struct {
		ContactID string `json:"contact_id"`
	}
	body := map[string]any{"channel": "voice", "queue": queue,
		"caller":  map[string]any{"id": fmt.Sprintf("+82-10-5555-%04d", callSeq.Add(1)), "name": caller, "language": "ko"},
		"context": map[string]any{"summary": "전화 메뉴: 여권", "ivr": []string{"1", "3"}}}
	if code := gw.call("POST", "/v1/contacts", body, &c); code != http.StatusCreated {
		t.Fatalf("place a call in %s: status %d", queue, code)
	}
	return c.ContactID
}

// A voice offer rings in a browser desk until it is answered; accepting
// asks for the microphone, and a browser that refuses it (Chromium without
// the fake media permission refuses) gets a clear message with a way to
// try again, in the agent's language.
func TestSoftphoneMicrophoneRefused(t *testing.T) {
	// A fake microphone exists, but nobody grants the page its use.
	line := softphoneLine(t, "gov110", "uitest-sp-mic", "소프트폰 마이크 시험 창구", "sp-mic")
	b := newBrowser(t, chromedp.Flag("use-fake-device-for-media-stream", true))
	agent := b.page("sp-mic")
	agent.loginAs("sp-mic", demoPassword)
	agent.goAvailable()
	placeCall(t, line, "전화 민원인")
	agent.waitFor("the call's offer", `!document.querySelector("#offer").hidden`)
	if !eval[bool](agent, `window.tellonceSoftphone.state().ringing`) {
		t.Error("a voice offer does not ring in a browser desk")
	}
	agent.click("#offer-accept")
	agent.waitFor("offer gone", `document.querySelector("#offer").hidden`)
	if eval[bool](agent, `window.tellonceSoftphone.state().ringing`) {
		t.Error("the desk still rings after the accept")
	}
	agent.waitFor("the refusal shown", `!document.querySelector("#sp-mic-error").hidden && !document.querySelector("#softphone").hidden`)
	agent.waitText("the refusal in Korean", "#sp-mic-error", "마이크")
	if st := eval[map[string]any](agent, `window.tellonceSoftphone.state()`); st["micError"] != "refused" {
		t.Errorf("softphone state %v; want the microphone refused", st)
	}
	agent.shot("softphone-mic-refused-ko")
	agent.noRawKeys()
	agent.selectValue("#lang", "en")
	agent.waitText("the refusal in English", "#sp-mic-error", "blocked the microphone")
	var raw json.RawMessage = eval[json.RawMessage](agent, `window.tellonceSoftphone.state()`)
	t.Logf("softphone: %s", raw)
}

// softphoneLine makes a voice line of agency that only the softphone
// tests use, staffed by new agents of that agency (no desk phone), so
// that the other tests' demo agents and queues neither take its calls nor
// are held by them. It returns the queue's id; the agents log in with
// demoPassword. A second round on the same server finds them made.
func softphoneLine(t *testing.T, agency, slug, name string, agents ...string) string {
	t.Helper()
	admin := login(t, "admin", adminPassword)
	queue := map[string]any{"id": slug, "name": name, "channels": []string{"voice", "chat"}, "public": false}
	if code := admin.call("POST", "/v1/agencies/"+agency+"/queues", queue, nil); code != http.StatusCreated && code != http.StatusConflict {
		t.Fatalf("create the queue %s.%s: status %d", agency, slug, code)
	}
	id := agency + "." + slug
	for _, u := range agents {
		user := map[string]any{"username": u, "name": "소프트폰 " + u, "password": demoPassword, "role": "agent", "agency": agency,
			"skills": map[string]int{"lang:ko": 5}, "queues": []map[string]any{{"queue": id, "level": 5}}}
		if code := admin.call("POST", "/v1/users", user, nil); code != http.StatusCreated && code != http.StatusConflict {
			t.Fatalf("create the agent %s: status %d", u, code)
		}
	}
	return id
}

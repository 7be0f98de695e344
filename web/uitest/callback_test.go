package uitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// A citizen waiting in /chat on a phone, in a line nobody staffs, is
// offered a callback; the number is checked before it is sent; with no
// time free they keep their place in line and see what was agreed.
func TestCitizenCallbackKeepsPlace(t *testing.T) {
	// A line of its own that offers callbacks after a second: with nobody
	// in it the estimate is an hour, so the offer shows at once.
	admin := login(t, "admin", adminPassword)
	queue := map[string]any{"id": "uitest-callback", "name": "콜백 시험 창구", "channels": []string{"chat", "callback"},
		"callback_after_s": 1}
	if code := admin.call("POST", "/v1/agencies/gov110/queues", queue, nil); code != http.StatusCreated && code != http.StatusConflict {
		t.Fatalf("create the callback queue: status %d", code)
	}

	b := newBrowser(t)
	citizen := b.page("citizen")
	citizen.do("phone-sized screen", chromedp.EmulateViewport(390, 800, chromedp.EmulateScale(2)))
	citizen.startCitizenChat("gov110", "gov110.uitest-callback", "김콜백", "건강보험 환급 문의")

	citizen.waitFor("callback offered", `!document.querySelector("#cb-offer").hidden`)
	citizen.waitText("the offer reads calmly", "#cb-offer", "전화로 받으시겠어요")
	citizen.shot("chat-callback-offer-ko")
	citizen.click("#cb-open")
	citizen.waitFor("form open", `!document.querySelector("#cb-form").hidden && document.activeElement.id === "cb-number"`)

	// Too short a number is refused beside the field, before any request.
	citizen.typeInto("#cb-number", "12")
	citizen.click("#cb-submit")
	citizen.waitFor("number error", `!document.querySelector('[data-error-for="number"]').hidden`)
	if got := eval[string](citizen, `document.querySelector("#cb-number").getAttribute("aria-invalid") || ""`); got != "true" {
		t.Errorf("the number's aria-invalid = %q; want true", got)
	}

	// Choosing a time lists the free slots; nobody staffs this line, so
	// there is none, and the page says to keep the place instead.
	citizen.click(`input[name=cb-mode][value=slot]`)
	citizen.waitText("no free time", "#cb-slots", "고를 수 있는 시간이 없습니다")
	citizen.click(`input[name=cb-mode][value=keep_place]`)
	citizen.waitFor("slots hidden", `document.querySelector("#cb-slots").hidden`)

	citizen.typeInto("#cb-number", "-3456-7890") // now 12-3456-7890
	citizen.noRawKeys()
	citizen.shot("chat-callback-form-ko")
	citizen.click("#cb-submit")
	citizen.waitFor("agreement shown", `!document.querySelector("#cb-done").hidden`)
	citizen.waitText("keeps the place", "#cb-done", "차례가 되면 전화드리겠습니다")
	citizen.waitText("names the number", "#cb-done", "1234567890")
	citizen.waitText("may close the page", "#cb-done", "닫으셔도 됩니다")
	citizen.waitFor("offer gone", `document.querySelector("#cb-offer").hidden`)
	citizen.waitFor("nothing to type while waiting for the call", `document.querySelector("#say-form").hidden`)
	citizen.waitText("still in line", "#where-main", "대기 순서")
	if w := eval[int](citizen, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the chat is %d px wide on a 390 px screen; want no sideways scrolling", w)
	}
	citizen.shot("chat-callback-agreed-ko")
	citizen.noRawKeys()

	// The server holds the contact as a callback now.
	var c struct {
		Channel string `json:"channel"`
		Status  string `json:"status"`
	}
	id := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).contact_id`)
	token := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).token`)
	cl := &apiClient{t: t}
	if code := cl.call("GET", "/v1/contacts/"+id+"?token="+token, nil, &c); code != http.StatusOK || c.Channel != "callback" || c.Status != "queued" {
		t.Errorf("GET the contact = %d, channel %q, status %q; want 200, callback, queued", code, c.Channel, c.Status)
	}
}

// An agent ends a chat by filing a callback with another agency's line:
// the citizen is told the agency will call; that agency's agent gets the
// callback with the case and the number, reports that nobody answered,
// and the desk says the call will be tried again.
func TestSecondLineCallback(t *testing.T) {
	// A line of the 1339 centre that calls back, staffed by an agent no
	// other test uses, and tried again after 30 s.
	admin := login(t, "admin", adminPassword)
	queue := map[string]any{"id": "uitest-recall", "name": "재통화 시험 창구", "channels": []string{"voice", "callback"},
		"callback_retries": 1, "callback_retry_s": 30, "public": false}
	if code := admin.call("POST", "/v1/agencies/kdca1339/queues", queue, nil); code != http.StatusCreated && code != http.StatusConflict {
		t.Fatalf("create the recall queue: status %d", code)
	}
	var user struct {
		Queues []map[string]any `json:"queues"`
	}
	if code := admin.call("GET", "/v1/users/jung.hyunwoo", nil, &user); code != http.StatusOK {
		t.Fatalf("GET jung.hyunwoo: status %d", code)
	}
	member := false
	for _, m := range user.Queues {
		member = member || m["queue"] == "kdca1339.uitest-recall"
	}
	if !member {
		user.Queues = append(user.Queues, map[string]any{"queue": "kdca1339.uitest-recall", "level": 5})
		if code := admin.call("PATCH", "/v1/users/jung.hyunwoo", map[string]any{"queues": user.Queues}, nil); code != http.StatusOK {
			t.Fatalf("add jung.hyunwoo to the recall queue: status %d", code)
		}
	}

	const (
		caller  = "박재통"
		handoff = "예방접종 증명서 재발급 건. 오후에 전화 원하심."
		number  = "+82 2-2100-5678" // as a citizen abroad might give it
		// The agent who calls back has no pii permission: the desk shows
		// the number masked, the way people read it all the same.
		shown = "02-****-5678"
	)
	b := newBrowser(t)
	citizen := b.page("citizen")
	first := b.page("lee.junho")
	second := b.page("jung.hyunwoo")

	first.loginAs("lee.junho", demoPassword)
	first.goAvailable()
	citizen.startCitizenChat("gov110", "gov110.english", caller, "Vaccination certificate")
	first.waitFor("offer", `!document.querySelector("#offer").hidden`)
	first.waitText("this citizen's offer", "#offer-title", caller)
	first.click("#offer-accept")
	first.waitFor("chat tab", `!!document.querySelector(`+jsString(deskPanel)+`)`)

	first.key(kb.Escape)
	first.shortcut("e")
	first.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	first.click("#end-callback")
	first.waitFor("callback fields", `!document.querySelector("#end-callback-fields").hidden`)
	first.typeInto("#callback-search", "재통화")
	first.waitFor("recall queue found", `!!document.querySelector('#callback-list input[value="kdca1339.uitest-recall"]')`)
	if eval[bool](first, `!!document.querySelector('#callback-list input[value="kdca1339.vaccination"]')`) {
		t.Error("the search lists a queue that does not match")
	}
	first.click(`#callback-list input[value="kdca1339.uitest-recall"]`)
	first.typeInto("#callback-note", handoff)
	first.click("#end-submit")
	// A chat has no number of its own: the dialog asks for one.
	first.waitFor("number required", `!document.querySelector('[data-error-for="callback.number"]').hidden`)
	first.typeInto("#callback-number", number)
	first.shot("desk-end-callback-ko")
	first.noRawKeys()
	first.click("#end-submit")
	first.waitFor("dialog closed", `!document.querySelector("#end-dialog").open`)
	first.waitText("desk says the callback is filed", deskPanel+" [data-part=status]", "콜백을 넘겼습니다")
	citizen.waitFor("citizen sees the end", `!document.querySelector("#ended-box").hidden`)
	citizen.waitText("citizen told they will be called", "#ended-text", "전화로 다시 연락드립니다")

	second.loginAs("jung.hyunwoo", demoPassword)
	second.goAvailable()
	second.waitFor("callback offer", `!document.querySelector("#offer").hidden`)
	second.waitText("offer is a callback", "#offer-meta", "콜백")
	second.waitText("offer shows the number", "#offer-meta", shown)
	second.waitText("offer shows the note first", "#offer-case .transfer-note", handoff)
	second.click("#offer-accept")
	second.waitFor("callback tab", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	second.waitText("number to call", deskPanel+" [data-part=cb-number]", shown)
	second.waitText("first call", deskPanel+" [data-part=cb-attempt]", "1번째")
	if eval[bool](second, `!document.querySelector(`+jsString(deskPanel+" [data-part=composer]")+`).hidden`) {
		t.Error("a callback tab offers to type to the citizen")
	}
	second.shot("desk-callback-ko")
	second.noRawKeys()
	second.click(deskPanel + ` [data-result="no_answer"]`)
	second.waitText("will be tried again", deskPanel+" [data-part=status]", "다시 전화")
	second.waitText("the box says so too", deskPanel+" [data-part=cb-status]", "받지 않음")
	second.noRawKeys()
}

// joinQueue makes user a member of queue (as the admin page would), once.
func joinQueue(t *testing.T, admin *apiClient, user, queue string) {
	t.Helper()
	var u struct {
		Queues []map[string]any `json:"queues"`
	}
	if code := admin.call("GET", "/v1/users/"+user, nil, &u); code != http.StatusOK {
		t.Fatalf("GET %s: status %d", user, code)
	}
	for _, m := range u.Queues {
		if m["queue"] == queue {
			return
		}
	}
	u.Queues = append(u.Queues, map[string]any{"queue": queue, "level": 5})
	if code := admin.call("PATCH", "/v1/users/"+user, map[string]any{"queues": u.Queues}, nil); code != http.StatusOK {
		t.Fatalf("add %s to %s: status %d", user, queue, code)
	}
}

// A chat that became a phone callback has nobody to write to on the page
// any more: the message box gives way to a note that an agent will call
// the number, while the citizen waits, once the agent takes the call and
// after a reload; the number reads with dashes on both sides. A call
// nobody answers shows when the next try comes, and the citizen may cancel.
func TestCallbackClosesCitizenComposer(t *testing.T) {
	// A line of its own, staffed by an agent no other test uses, who is
	// away at first: the wait is long, so the offer shows at once.
	admin := login(t, "admin", adminPassword)
	queue := map[string]any{"id": "uitest-phoneback", "name": "전화 회신 시험 창구", "channels": []string{"chat", "callback"},
		"callback_after_s": 1}
	if code := admin.call("POST", "/v1/agencies/hikorea1345/queues", queue, nil); code != http.StatusCreated && code != http.StatusConflict {
		t.Fatalf("create the callback queue: status %d", code)
	}
	joinQueue(t, admin, "nguyen.lan", "hikorea1345.uitest-phoneback")

	const (
		typed = "01012345678"
		shown = "010-1234-5678"
		// The agent has no pii permission: the desk shows the number
		// masked, with dashes all the same.
		masked = "010-****-5678"
	)
	b := newBrowser(t)
	citizen := b.page("citizen")
	agent := b.page("nguyen.lan")
	citizen.startCitizenChat("hikorea1345", "hikorea1345.uitest-phoneback", "이전화", "체류지 변경 신고 문의")
	citizen.waitFor("composer while chatting", `!document.querySelector("#say-form").hidden && document.querySelector("#say-closed").hidden`)
	citizen.waitFor("callback offered", `!document.querySelector("#cb-offer").hidden`)
	citizen.click("#cb-open")
	citizen.waitFor("form open", `!document.querySelector("#cb-form").hidden`)
	citizen.typeInto("#cb-number", typed)
	citizen.click("#cb-submit")
	citizen.waitFor("agreement shown", `!document.querySelector("#cb-done").hidden`)
	citizen.waitText("number with dashes", "#cb-done-number", shown)

	// closed checks the page says why there is no message box.
	closed := func(when string) {
		t.Helper()
		citizen.waitFor(when+": no message box", `document.querySelector("#say-form").hidden && !document.querySelector("#say-closed").hidden`)
		citizen.waitText(when+": says who calls where", "#say-closed", "상담사가 "+shown+" 번호로 전화드립니다")
		citizen.waitText(when+": says why", "#say-closed", "더 이상 메시지를 보낼 수 없습니다")
		if eval[bool](citizen, `!!document.querySelector("#say").offsetParent`) {
			t.Errorf("%s: the message box can still be typed in", when)
		}
	}
	closed("waiting for the call")
	citizen.waitText("the box says the turn will come", "#cb-done-text", "차례가 되면 전화드리겠습니다")
	citizen.noRawKeys()

	// While waiting, leaving is cancelling the callback; the citizen is
	// asking whether to when the agent takes the call.
	citizen.waitText("leaving cancels the callback", "#leave", "콜백 취소")
	citizen.click("#leave")
	citizen.waitFor("asked to confirm", `!document.querySelector("#leave-confirm").hidden`)

	// noLeave checks that the page offers no way to drop the contact while
	// the agent calls: the citizen takes the call or lets it ring.
	noLeave := func(when string) {
		t.Helper()
		citizen.waitFor(when+": nothing to leave", `document.querySelector("#leave-box").hidden`)
		if eval[bool](citizen, `!!document.querySelector("#leave").offsetParent || !!document.querySelector("#leave-yes").offsetParent`) {
			t.Errorf("%s: the page still offers to leave", when)
		}
	}

	// calling checks the callback box says the call is under way, as the
	// line at the top does, and no longer that it will come.
	calling := func(when, text string) {
		t.Helper()
		citizen.waitText(when+": the box says the agent is calling", "#cb-done-text", text)
		if got := citizen.text("#cb-done"); strings.Contains(got, "차례가 되면") || strings.Contains(got, "when it is your turn") {
			t.Errorf("%s: the box still promises a call later: %q", when, got)
		}
		citizen.waitText(when+": with the number", "#cb-done-number", shown)
	}

	// The agent takes the call: the desk shows the number the same way
	// and no message box; the citizen hears the agent is calling.
	agent.loginAs("nguyen.lan", demoPassword)
	agent.goAvailable()
	agent.waitFor("callback offer", `!document.querySelector("#offer").hidden`)
	agent.waitText("offer shows the number with dashes", "#offer-meta", masked)
	agent.click("#offer-accept")
	agent.waitFor("callback tab", `!!document.querySelector(`+jsString(deskPanel+" [data-part=callback]:not([hidden])")+`)`)
	agent.waitText("tab shows the number with dashes", deskPanel+" [data-part=cb-number]", masked)
	citizen.waitText("the agent is calling", "#where-main", "응우옌 란")
	closed("while the agent calls")
	noLeave("while the agent calls")
	calling("while the agent calls", "상담사가 지금 전화드리고 있습니다")
	citizen.waitText("says it is a call", "#where-main", "전화")
	citizen.shot("chat-callback-calling-ko")

	// A reload comes back the same.
	citizen.do("reload", chromedp.Reload())
	citizen.waitFor("chat back", `!document.querySelector("#chat-view").hidden`)
	citizen.waitText("still the call", "#where-main", "응우옌 란")
	closed("after a reload")
	noLeave("after a reload")
	calling("after a reload", "상담사가 지금 전화드리고 있습니다")
	citizen.noRawKeys()

	// In English too.
	citizen.selectValue("#lang", "en")
	citizen.waitText("in English", "#say-closed", "This is now a phone call to "+shown)
	noLeave("in English")
	calling("in English", "An agent is calling you now")
	citizen.noRawKeys()

	// Nobody answers: the page says when the next try comes instead of
	// the agent calling, and leaving is cancelling the callback again.
	agent.click(deskPanel + ` [data-result="no_answer"]`)
	agent.waitText("the desk says it will be tried again", deskPanel+" [data-part=status]", "다시 전화")
	retry := func(when, main, box, leave string) {
		t.Helper()
		citizen.waitText(when+": says the next try", "#where-main", main)
		citizen.waitText(when+": the box says so too", "#cb-done-text", box)
		citizen.waitText(when+": leaving cancels the callback", "#leave", leave)
		if eval[bool](citizen, `document.querySelector("#leave-box").hidden`) {
			t.Errorf("%s: no way to cancel the callback while it waits for the next try", when)
		}
		if got := citizen.text("#where-main"); strings.Contains(got, "응우옌 란") {
			t.Errorf("%s: the page still says the agent is calling: %q", when, got)
		}
	}
	retry("after no answer", "We will call again around", "We could not reach you", "Cancel the callback")
	citizen.noRawKeys()
	citizen.selectValue("#lang", "ko")
	retry("in Korean", "다시 전화드립니다", "전화를 받지 않으셔서", "콜백 취소")
	closed("waiting for the next try")
	citizen.shot("chat-callback-retry-ko")
	citizen.do("reload", chromedp.Reload())
	citizen.waitFor("chat back", `!document.querySelector("#chat-view").hidden`)
	retry("after a reload", "다시 전화드립니다", "전화를 받지 않으셔서", "콜백 취소")
	citizen.noRawKeys()

	// The citizen gives up on the call: the callback is cancelled, and the
	// ended page shows neither a message box nor the callback note.
	citizen.click("#leave")
	citizen.waitFor("asked to confirm", `!document.querySelector("#leave-confirm").hidden`)
	citizen.click("#leave-yes")
	citizen.waitFor("chat ended", `!document.querySelector("#ended-box").hidden`)
	citizen.waitText("says the callback is cancelled", "#ended-text", "콜백을 취소하셨습니다")
	if eval[bool](citizen, `!document.querySelector("#say-closed").hidden || !document.querySelector("#say-form").hidden`) {
		t.Error("an ended chat shows the message box or the callback note")
	}
}

// Callback numbers read the way people write them, wherever they are
// shown; what cannot be read as a Korean number shows as given.
func TestCallbackNumberFormat(t *testing.T) {
	tests := []struct{ given, want string }{
		{"01012345678", "010-1234-5678"},
		{"0111234567", "011-123-4567"},
		{"021234567", "02-123-4567"},
		{"0212345678", "02-1234-5678"},
		{"0311234567", "031-123-4567"},
		{"05112345678", "051-1234-5678"},
		{"07012345678", "070-1234-5678"},
		{"15881234", "1588-1234"},
		{"16441234", "1644-1234"},
		{"18991234", "1899-1234"},
		{"+821012345678", "010-1234-5678"},
		{"+82 2 1234 5678", "02-1234-5678"},
		{"+82(0)21234567", "02-123-4567"},
		{"010-1234-5678", "010-1234-5678"},
		{"+14155550123", "+14155550123"},
		{"1339", "1339"},
		{"0101234", "0101234"},
		{"050512345678", "050512345678"},
		{"", ""},
		// Masked for a reader without pii.
		{"010****5678", "010-****-5678"},
		{"+822****5678", "02-****-5678"},
		{"02***4567", "02-***-4567"},
		{"+*******2671", "+*******2671"},
	}
	b := newBrowser(t)
	p := b.page("citizen")
	p.navigate("/chat")
	given := make([]string, len(tests))
	for i, tc := range tests {
		given[i] = tc.given
	}
	in, _ := json.Marshal(given)
	got := eval[[]string](p, `import("/static/ui.js").then((m) => `+string(in)+`.map(m.phoneNumber))`, chromedp.EvalAwaitPromise)
	if len(got) != len(tests) {
		t.Fatalf("got %d answers for %d numbers", len(got), len(tests))
	}
	for i, tc := range tests {
		if got[i] != tc.want {
			t.Errorf("phoneNumber(%q) = %q; want %q", tc.given, got[i], tc.want)
		}
	}
}

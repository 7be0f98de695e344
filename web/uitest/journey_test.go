package uitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// deskPanel is the chat in front on the agent desk.
const deskPanel = "section.chat:not([hidden])"

// selectValue picks an option of a <select> as a person would, so that
// the page's change handlers run.
func (p *page) selectValue(sel, value string) {
	p.b.t.Helper()
	p.do("choose "+value+" in "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const s = document.querySelector(%s); s.value = %s; s.dispatchEvent(new Event("change", {bubbles: true})); })()`,
		jsString(sel), jsString(value))))
}

// goAvailable opens the desk (already logged in) and goes available.
func (p *page) goAvailable() {
	p.b.t.Helper()
	p.navigate("/console")
	p.waitFor("desk connected", `document.querySelector("#conn")?.classList.contains("ok")`)
	p.click(`label[for="st-available"]`)
	p.waitFor("state available", `document.querySelector("#state-now")?.classList.contains("st-available")`)
}

// startCitizenChat fills /chat and starts; it waits for the queue view.
func (p *page) startCitizenChat(agency, queue, name, summary string) {
	p.b.t.Helper()
	p.navigate("/chat")
	p.selectValue("#agency", agency)
	p.selectValue("#queue", queue)
	p.typeInto("#name", name)
	p.typeInto("#summary", summary)
	p.click("#start")
	p.waitFor("chat view", `!document.querySelector("#chat-view").hidden`)
}

// sayOnDesk sends a message from the desk's chat in front.
func (p *page) sayOnDesk(text string) {
	p.b.t.Helper()
	p.typeInto(deskPanel+" textarea[data-part=say]", text)
	p.key(kb.Enter)
	p.waitText("own message shown", deskPanel+" [data-part=messages]", text)
}

// The journey of the issue: a citizen chats, an agent of 110 accepts by
// keyboard, they talk, the agent transfers to 126 with a note, the 126
// agent's offer shows that note and the citizen's earlier words before
// accepting, the citizen sees the transfer, and the chat ends.
func TestChatTransferJourney(t *testing.T) {
	b := newBrowser(t)
	citizen := b.page("citizen")
	first := b.page("kim.minji")
	second := b.page("han.jiwon")

	const (
		summary  = "여권을 잃어버렸어요. 재발급 받고 싶습니다."
		urgent   = "다음 주 화요일에 출국이라 급해요."
		greeting = "안녕하세요, 110 김민지입니다. 여권 분실 건 도와드리겠습니다."
		private  = "출국 화요일, 급행 재발급 안내 필요"
		handover = "출국 전 세금 체납 여부 확인이 필요합니다. 여권 분실 신고는 안내 완료."
	)

	citizen.startCitizenChat("gov110", "gov110.general", "홍길동", summary)
	citizen.waitText("waiting position", "#where-main", "1")
	citizen.shot("chat-waiting-ko")

	// The first agent logs in through the login page, which sends them
	// back to the desk.
	first.navigate("/console")
	first.waitFor("login page", `location.pathname === "/" && !!document.querySelector("#username")`)
	first.typeInto("#username", "kim.minji")
	first.typeInto("#password", demoPassword)
	first.key(kb.Enter)
	first.waitFor("desk after login", `location.pathname === "/console" && document.querySelector("#conn")?.classList.contains("ok")`)
	first.click(`label[for="st-available"]`)

	first.waitFor("offer shown", `!document.querySelector("#offer").hidden`)
	first.waitText("offer shows the citizen's first words", "#offer-case", summary)
	first.waitText("offer shows the caller", "#offer-title", "홍길동")
	first.shot("desk-offer-ko")
	first.do("focus accept", chromedp.Focus(chromedp.CSS("#offer-accept")))
	first.shortcut("a") // accept by keyboard
	first.waitFor("chat tab open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	first.waitFor("offer gone", `document.querySelector("#offer").hidden`)

	first.sayOnDesk(greeting)
	citizen.waitText("citizen sees the agent joined", "#where-main", "김민지")
	citizen.waitText("citizen sees the greeting", "#log", greeting)
	citizen.typeInto("#say", urgent)
	citizen.key(kb.Enter)
	first.waitText("agent sees the citizen", deskPanel+" [data-part=messages]", urgent)

	first.typeInto(deskPanel+" textarea[data-part=note]", private)
	first.click(deskPanel + " [data-part=note-form] button")
	first.waitText("note in the timeline", deskPanel+" [data-part=timeline]", private)
	first.shot("desk-chat-ko")

	// The second agent, of another agency, is ready.
	second.loginAs("han.jiwon", demoPassword)
	second.goAvailable()

	// Transfer by keyboard: Esc leaves the note box, T opens the dialog.
	first.key(kb.Escape)
	first.shortcut("t")
	first.waitFor("transfer dialog", `document.querySelector("#transfer-dialog").open`)
	first.typeInto("#transfer-search", "세무")
	first.waitFor("126 found", `!!document.querySelector('#transfer-list input[value="queue:nts126.general"]')`)
	first.click(`#transfer-list input[value="queue:nts126.general"]`)
	first.shot("desk-transfer-ko")
	first.click("#transfer-submit")
	first.waitFor("note required", `!document.querySelector('[data-error-for="note"]').hidden`)
	first.typeInto("#transfer-note", handover)
	first.click("#transfer-submit")
	first.waitFor("dialog closed", `!document.querySelector("#transfer-dialog").open`)
	first.waitText("first agent sees the transfer", deskPanel+" [data-part=status]", "전환")

	citizen.waitFor("citizen sees the transfer", `!document.querySelector("#transfer-box").hidden`)
	citizen.waitText("no need to repeat", "#transfer-box", "다시 설명하지 않으셔도")
	citizen.waitText("transfer names the agency", "#transfer-box", "국세청")
	citizen.shot("chat-transferred-ko")

	// Before accepting, the second agent reads the whole case.
	second.waitFor("offer to the second agent", `!document.querySelector("#offer").hidden`)
	for _, want := range []string{handover, urgent, summary, greeting, private, "김민지"} {
		second.waitText("offer shows "+want, "#offer-case", want)
	}
	if note := second.text("#offer-case .transfer-note"); !strings.Contains(note, handover) {
		t.Errorf("the transfer note is not first in the offer: %q", note)
	}
	second.shot("desk-offer-transfer-ko")
	second.click("#offer-accept")
	second.waitFor("second chat open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	second.sayOnDesk("국세청 한지원입니다. 말씀하신 내용 모두 전달받았습니다.")
	citizen.waitText("citizen hears 126", "#log", "한지원")

	// End with a disposition and a summary.
	second.key(kb.Escape)
	second.shortcut("e")
	second.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	second.selectValue("#end-disposition", "informed")
	second.typeInto("#end-summary", "체납 없음 확인, 여권 재발급 가능 안내")
	second.click("#end-submit")
	second.waitText("wrap-up shown", deskPanel+" [data-part=status]", "정리 시간")
	citizen.waitFor("citizen sees the end", `!document.querySelector("#ended-box").hidden`)
	citizen.shot("chat-ended-ko")
	for _, p := range []*page{citizen, first, second} {
		p.noRawKeys()
	}

	// The 110 supervisor finds the case by a Korean word and reads its
	// timeline across both agencies.
	if !served(t, "/v1/transcripts") {
		t.Log("this build serves no transcript review; the supervisor's part is left out")
		return
	}
	sup := b.page("sup.gov110")
	sup.loginAs("sup.gov110", demoPassword)
	sup.navigate("/supervisor#review")
	sup.waitFor("review form", `!document.querySelector("#sec-review").hidden`)
	sup.typeInto("#s-q", "출국") // part of "출국이라" and "출국 전"
	sup.click(`#search-form button[type=submit]`)
	sup.waitFor("a result", `!!document.querySelector("#results .result-card")`)
	if marked := sup.text("#results .result-card mark"); marked != "출국" {
		t.Errorf("highlighted %q in the snippet; want 출국", marked)
	}
	sup.click("#results .result-card button")
	sup.waitFor("timeline open", `!document.querySelector("#case").hidden`)
	for _, want := range []string{"정부민원안내콜센터 110", "국세청 세미래 콜센터 126", "김민지", "한지원"} {
		sup.waitText("legs show "+want, "#case-legs", want)
	}
	for _, want := range []string{handover, private, urgent} {
		sup.waitText("timeline shows "+want, "#case-timeline", want)
	}
	sup.shot("review-ko")
	sup.click(`#export-form button[type=submit]`)
	sup.waitFor("reason required", `!document.querySelector('#export-form [data-error-for="reason"]').hidden`)
	sup.noRawKeys()
}

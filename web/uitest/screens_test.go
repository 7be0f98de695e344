//go:build screens

package uitest

import (
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestScreens saves screenshots of every page in Korean and English, and
// of /chat and /status on a phone-sized screen, for a person to look at:
// UITEST_SHOTS=<folder> go test -tags screens ./web/uitest -run TestScreens.
// It is a tool for people, so it builds only with the screens tag.
func TestScreens(t *testing.T) {
	if os.Getenv("UITEST_SHOTS") == "" {
		t.Fatal("set UITEST_SHOTS to the folder for the screenshots")
	}
	b := newBrowser(t)
	for _, lang := range []string{"ko", "en"} {
		guest := b.page("guest-" + lang)
		setLang(guest, lang)
		guest.navigate("/")
		guest.waitFor("login", `!!document.querySelector("#login-form")`)
		guest.shot("login-" + lang)
		guest.navigate("/chat")
		guest.waitFor("chat form", `!!document.querySelector("#start-form")`)
		guest.shot("chat-start-" + lang)

		phone := phonePage(b, "phone-", lang)
		phone.shot("status-phone-" + lang)
		phone.startCitizenChat("nts126", "nts126.year-end", "김하나", "연말정산 부양가족 공제를 문의합니다.")
		phone.typeInto("#say", "부모님을 부양가족으로 올릴 수 있나요?")
		phone.click("#send")
		phone.waitText("message shown", "#log", "부모님을")
		phone.shot("chat-waiting-phone-" + lang)
		phone.click("#bigger")
		phone.shot("chat-large-text-phone-" + lang)
		phone.click("#leave")
		phone.click("#leave-yes")
		phone.waitFor("ended", `!document.querySelector("#ended-box").hidden`)

		agent := b.page("agent-" + lang)
		setLang(agent, lang)
		agent.loginAs("yoon.taeyang", demoPassword)
		agent.goAvailable()
		agent.shot("desk-empty-" + lang)
		openChatToken(t, "nts126.general", "screens-caller-"+lang)
		agent.waitFor("offer", `!document.querySelector("#offer").hidden`)
		agent.shot("desk-offer-" + lang)
		agent.click("#offer-accept")
		agent.waitFor("chat", `!!document.querySelector(`+jsString(deskPanel)+`)`)
		agent.sayOnDesk("Hello, this is the 126 tax line.")
		agent.shot("desk-chat-" + lang)
		agent.key(kb.Escape)
		agent.shortcut("t")
		agent.waitFor("transfer dialog", `document.querySelector("#transfer-dialog").open`)
		agent.typeInto("#transfer-search", "1345")
		agent.shot("desk-transfer-" + lang)
		agent.click("#transfer-cancel")
		agent.shortcut("e")
		agent.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
		agent.click("#end-submit")
		agent.waitFor("wrap-up", `document.querySelector(`+jsString(deskPanel+" [data-part=status]")+`).textContent.length > 0`)
		agent.shot("desk-wrapup-" + lang)
		agent.click(`label[for="st-break"]`)
		agent.waitText("on break", "#state-now", map[string]string{"ko": "휴식", "en": "Break"}[lang])

		sup := b.page("sup-" + lang)
		setLang(sup, lang)
		sup.loginAs("sup.nts126", demoPassword)
		sup.navigate("/supervisor")
		sup.waitFor("board", `!document.querySelector("#sec-board").hidden`)
		sup.shot("supervisor-board-" + lang)
		sup.navigate("/supervisor#review")
		sup.waitFor("review", `!document.querySelector("#sec-review").hidden`)
		sup.shot("supervisor-review-" + lang)
		sup.navigate("/admin#users")
		sup.waitText("users", "#user-rows", "han.jiwon")
		sup.shot("admin-users-" + lang)
		sup.navigate("/admin#queues")
		sup.waitText("queues", "#queue-rows", "nts126.general")
		sup.shot("admin-queues-" + lang)
		for _, p := range []*page{guest, phone, agent, sup} {
			p.noRawKeys()
		}

		screensInterpreter(b, lang)
		screensSecondLineCallback(b, lang)
		screensCitizenCallback(b, lang)
	}
}

// setLang sets the language cookie for the page.
func setLang(p *page, lang string) {
	p.navigate("/status?lang=" + lang)
}

// phonePage opens a page on a phone-sized screen in lang.
func phonePage(b *browser, name, lang string) *page {
	p := b.page(name + lang)
	p.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	setLang(p, lang)
	return p
}

// takeBreak puts an agent on break, so that the next scene's contacts go
// to the agents meant for them, and leaves the desk: a later page of the
// same user then holds the only connection.
func (p *page) takeBreak(lang string) {
	p.b.t.Helper()
	p.key(kb.Escape)
	p.click(`label[for="st-break"]`)
	p.waitText("on break", "#state-now", map[string]string{"ko": "휴식", "en": "Break"}[lang])
	p.do("leave the desk", chromedp.Navigate("about:blank"))
}

// endOnDesk ends the chat in front through the end dialog as it stands.
func (p *page) endOnDesk() {
	p.b.t.Helper()
	p.key(kb.Escape)
	p.shortcut("e")
	p.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	p.click("#end-submit")
	p.waitFor("end dialog closed", `!document.querySelector("#end-dialog").open`)
}

// screensInterpreter: a Vietnamese-speaking citizen on a phone, an agent
// who brings in an interpreter (dialog, request, joined), and the
// interpreter's offer and tab.
func screensInterpreter(b *browser, lang string) {
	agent := b.page("interp-agent-" + lang)
	setLang(agent, lang)
	agent.loginAs("park.seoyeon", demoPassword)
	agent.goAvailable()

	// The citizen asks for a Korean-speaking agent, whatever the page's
	// language, then writes in Vietnamese.
	citizen := phonePage(b, "interp-citizen-", lang)
	citizen.navigate("/chat")
	citizen.selectValue("#agency", "gov110")
	citizen.selectValue("#queue", "gov110.general")
	citizen.selectValue("#language", "ko")
	citizen.typeInto("#name", "응우옌 티 투")
	citizen.typeInto("#summary", "비자 연장")
	citizen.click("#start")
	citizen.waitFor("chat view", `!document.querySelector("#chat-view").hidden`)

	agent.waitFor("offer", `!document.querySelector("#offer").hidden`)
	agent.click("#offer-accept")
	agent.waitFor("chat tab", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	citizen.typeInto("#say", "Xin chào, tôi cần gia hạn thị thực.")
	citizen.click("#send")
	agent.waitText("citizen's words", deskPanel+" [data-part=messages]", "Xin chào")

	agent.key(kb.Escape)
	agent.shortcut("i")
	agent.waitFor("interpreter dialog", `document.querySelector("#interpret-dialog").open`)
	agent.selectValue("#interpret-language", "vi")
	agent.typeInto("#interpret-note", "체류 기간 연장 문의. 한국어가 서툽니다.")
	agent.shot("desk-interpret-dialog-" + lang)
	agent.noRawKeys()
	agent.click("#interpret-submit")
	agent.waitFor("request shown", `!!document.querySelector(`+jsString(deskPanel+" .interp-requested")+`)`)
	agent.shot("desk-interpreter-requested-" + lang)

	interp := b.page("interpreter-" + lang)
	setLang(interp, lang)
	interp.loginAs("tran.mai", demoPassword)
	interp.goAvailable()
	interp.waitFor("interpreter offer", `!document.querySelector("#offer").hidden`)
	interp.shot("desk-interpreter-offer-" + lang)
	interp.noRawKeys()
	interp.click("#offer-accept")
	interp.waitFor("interpreting tab", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	interp.sayOnDesk("안녕하세요, 통역사 쩐마이입니다. Tôi là phiên dịch viên.")
	interp.shot("desk-interpreter-tab-" + lang)

	agent.waitFor("interpreter joined", `!!document.querySelector(`+jsString(deskPanel+" .interp-joined")+`)`)
	agent.waitText("interpreter's words", deskPanel+" [data-part=messages]", "phiên dịch")
	agent.shot("desk-interpreter-joined-" + lang)
	citizen.waitText("citizen sees the interpreter", "#log", "phiên dịch")
	citizen.shot("chat-interpreter-phone-" + lang)
	for _, p := range []*page{agent, interp, citizen} {
		p.noRawKeys()
	}

	interp.endOnDesk()
	agent.waitFor("interpreter left", `!!document.querySelector(`+jsString(deskPanel+" .interp-left")+`)`)
	agent.endOnDesk()
	citizen.waitFor("chat ended", `!document.querySelector("#ended-box").hidden`)
	interp.takeBreak(lang)
	agent.takeBreak(lang)
}

// screensSecondLineCallback: an agent ends a chat by filing a callback
// with another agency; that agency's agent gets the callback on the desk.
func screensSecondLineCallback(b *browser, lang string) {
	t := b.t
	first := b.page("cb-first-" + lang)
	setLang(first, lang)
	first.loginAs("lee.junho", demoPassword)
	first.goAvailable()
	openChatToken(t, "gov110.english", "screens-recall-"+lang)
	first.waitFor("offer", `!document.querySelector("#offer").hidden`)
	first.click("#offer-accept")
	first.waitFor("chat tab", `!!document.querySelector(`+jsString(deskPanel)+`)`)

	first.key(kb.Escape)
	first.shortcut("e")
	first.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	first.click("#end-callback")
	first.waitFor("callback fields", `!document.querySelector("#end-callback-fields").hidden`)
	first.shot("desk-end-callback-open-" + lang)
	first.typeInto("#callback-search", "1339")
	first.waitFor("queue listed", `!!document.querySelector('#callback-list input[value="kdca1339.infection"]')`)
	first.click(`#callback-list input[value="kdca1339.infection"]`)
	first.typeInto("#callback-number", "010-5555-6666")
	first.typeInto("#callback-note", "예방접종 증명서 재발급 건. 오후 통화 희망.")
	first.shot("desk-end-callback-" + lang)
	first.noRawKeys()
	first.click("#end-submit")
	first.waitFor("dialog closed", `!document.querySelector("#end-dialog").open`)
	first.shot("desk-callback-filed-" + lang)
	first.takeBreak(lang)

	second := b.page("cb-second-" + lang)
	setLang(second, lang)
	second.loginAs("jung.hyunwoo", demoPassword)
	second.goAvailable()
	second.waitFor("callback offer", `!document.querySelector("#offer").hidden`)
	second.shot("desk-callback-offer-" + lang)
	second.click("#offer-accept")
	second.waitFor("callback tab", `!!document.querySelector(`+jsString(deskPanel+" [data-part=callback]:not([hidden])")+`)`)
	second.shot("desk-callback-" + lang)
	second.noRawKeys()
	second.click(deskPanel + ` [data-result="answered"]`)
	second.waitFor("answered", `document.querySelector(`+jsString(deskPanel+" [data-part=cb-actions]")+`).hidden`)
	second.shot("desk-callback-answered-" + lang)
	second.endOnDesk()
	second.takeBreak(lang)
}

// screensCitizenCallback: a citizen waiting on a phone in a line nobody
// staffs is offered a callback, fills it in and sees what was agreed.
func screensCitizenCallback(b *browser, lang string) {
	citizen := phonePage(b, "cb-citizen-", lang)
	citizen.startCitizenChat("hikorea1345", "hikorea1345.korean", "김콜백", "외국인등록증 재발급 문의")
	citizen.waitFor("callback offered", `!document.querySelector("#cb-offer").hidden`)
	citizen.shot("chat-callback-offer-phone-" + lang)
	citizen.click("#cb-open")
	citizen.waitFor("form open", `!document.querySelector("#cb-form").hidden`)
	citizen.typeInto("#cb-number", "010-1234-5678")
	citizen.click(`input[name=cb-mode][value=slot]`)
	citizen.waitFor("slots answered", `!!document.querySelector("#cb-slots input, #cb-slots .error") ||
		!!document.querySelector("#cb-slots .hint:not(:only-child), #cb-slots .hint") && !document.querySelector("#cb-slots").textContent.endsWith("…")`)
	citizen.shot("chat-callback-form-phone-" + lang)
	citizen.click(`input[name=cb-mode][value=keep_place]`)
	citizen.click("#cb-submit")
	citizen.waitFor("agreement shown", `!document.querySelector("#cb-done").hidden`)
	citizen.shot("chat-callback-agreed-phone-" + lang)
	citizen.noRawKeys()
	citizen.click("#leave")
	citizen.waitFor("asked to confirm", `!document.querySelector("#leave-confirm").hidden`)
	citizen.shot("chat-callback-cancel-phone-" + lang)
	citizen.click("#leave-yes")
	citizen.waitFor("ended", `!document.querySelector("#ended-box").hidden`)
	citizen.shot("chat-callback-cancelled-phone-" + lang)
}

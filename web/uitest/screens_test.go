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
		setLang := func(p *page) {
			p.navigate("/status?lang=" + lang) // sets the language cookie
		}
		guest := b.page("guest-" + lang)
		setLang(guest)
		guest.navigate("/")
		guest.waitFor("login", `!!document.querySelector("#login-form")`)
		guest.shot("login-" + lang)
		guest.navigate("/chat")
		guest.waitFor("chat form", `!!document.querySelector("#start-form")`)
		guest.shot("chat-start-" + lang)

		phone := b.page("phone-" + lang)
		phone.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		setLang(phone)
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
		setLang(agent)
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
		setLang(sup)
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
	}
}

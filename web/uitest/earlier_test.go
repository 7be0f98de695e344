package uitest

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// A citizen who comes back from the same browser (the same chat device)
// is recognised: the agent's offer card lists the earlier case under
// "이전 문의", opens it whole on demand, and the case panel keeps it
// after the accept.
func TestDeskShowsEarlierCases(t *testing.T) {
	b := newBrowser(t)
	citizen := b.page("citizen")
	agent := b.page("han.jiwon")
	const (
		firstWords = "지난주 연말정산 서류 문의"
		wrapUp     = "원천징수영수증 발급 안내"
	)
	citizen.startCitizenChat("nts126", "nts126.general", "다시 온 시민", firstWords)
	agent.loginAs("han.jiwon", demoPassword)
	agent.goAvailable()
	agent.waitFor("first offer", `!document.querySelector("#offer").hidden`)
	if agent.text("#offer-case .earlier-cases") != "" {
		t.Error("a first-time citizen's offer lists earlier cases")
	}
	agent.click("#offer-accept")
	agent.waitFor("chat open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	agent.key(kb.Escape)
	agent.shortcut("e")
	agent.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	agent.selectValue("#end-disposition", "informed")
	agent.typeInto("#end-summary", wrapUp)
	agent.click("#end-submit")
	citizen.waitFor("citizen sees the end", `!document.querySelector("#ended-box").hidden`)

	// The same browser starts again: a new question, a returning citizen.
	citizen.startCitizenChat("nts126", "nts126.general", "다시 온 시민", "서류를 다시 받고 싶어요")
	agent.waitFor("second offer", `!document.querySelector("#offer").hidden`)
	agent.waitText("offer lists the earlier case with its summary", "#offer-case .earlier-cases", wrapUp)
	if got := agent.text("#offer-case .earlier-cases h3"); got != "이전 문의" {
		t.Errorf("the offer's earlier cases are headed %q; want 이전 문의", got)
	}
	agent.click("#offer-accept") // before the offer times out on a slow machine
	panel := deskPanel + " [data-part=history]"
	agent.waitText("case panel keeps it", panel, wrapUp)
	agent.do("open the earlier case", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(panel+" .earlier-item summary")+`).click()`))
	agent.waitText("the earlier case whole", panel+" .earlier-case", firstWords)
	agent.shot("desk-earlier-case-ko")

	contact := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).contact_id`)
	token := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).token`)
	t.Cleanup(func() { // later tests use this line
		(&apiClient{t: t}).call("DELETE", "/v1/contacts/"+contact+"?token="+token, nil, nil)
	})
}

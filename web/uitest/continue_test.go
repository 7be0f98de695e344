package uitest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An ended chat offers "Continue this question": a link whose fragment
// carries the case and its continuation token (never the id alone). It
// opens the start form saying so, and the chat it starts continues the
// same case, which had closed and reopens.
func TestChatContinuesAnEndedQuestion(t *testing.T) {
	b := newBrowser(t)
	citizen := b.page("citizen")
	citizen.startCitizenChat("nts126", "nts126.general", "이어서 확인", "지난번 문의를 이어서 하고 싶어요")
	caseID := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).case_id`)
	citizen.waitFor("place shown", `/\d/.test(document.querySelector("#where")?.textContent || "")`)
	citizen.do("leave", chromedp.Evaluate[chromedp.Void](`document.querySelector("#leave").click()`))
	citizen.waitFor("asked to confirm", `!document.querySelector("#leave-confirm").hidden`)
	citizen.do("confirm", chromedp.Evaluate[chromedp.Void](`document.querySelector("#leave-yes").click()`))
	citizen.waitFor("chat ended", `!document.querySelector("#ended-box").hidden`)
	citizen.waitFor("continue link shown", `!document.querySelector("#continue").hidden`)
	if got := citizen.text("#continue"); got != "이어서 문의하기" {
		t.Errorf("the link reads %q; want 이어서 문의하기", got)
	}
	href := eval[string](citizen, `document.querySelector("#continue").getAttribute("href")`)
	path, frag, _ := strings.Cut(href, "#")
	if path != "/chat" || !strings.Contains(frag, "case="+caseID) || !strings.Contains(frag, "token=") {
		t.Fatalf("continue link %q; want /chat with the case and its token in the fragment", href)
	}

	citizen.click("#continue")
	citizen.waitFor("start form, continuing", `!document.querySelector("#start-view").hidden && !document.querySelector("#continuing").hidden`)
	if h := eval[string](citizen, `location.hash`); h != "" {
		t.Errorf("the token stays in the address bar: %q", h)
	}
	citizen.selectValue("#agency", "nts126")
	citizen.selectValue("#queue", "nts126.general")
	citizen.typeInto("#summary", "서류를 준비했습니다")
	citizen.click("#start")
	citizen.waitFor("chat view", `!document.querySelector("#chat-view").hidden`)
	if got := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).case_id`); got != caseID {
		t.Errorf("the continued chat is case %s; want %s reopened", got, caseID)
	}
	contact := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).contact_id`)
	token := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).token`)
	t.Cleanup(func() { // later tests use this line
		(&apiClient{t: t}).call("DELETE", "/v1/contacts/"+contact+"?token="+token, nil, nil)
	})
}

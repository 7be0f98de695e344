package uitest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// The chat page keeps an open chat in the browser so a reload picks it up,
// and forgets it — its words, its tokens — as soon as it ends, and on the
// reload after.
func TestChatForgetsAnEndedChat(t *testing.T) {
	b := newBrowser(t)
	citizen := b.page("citizen")
	citizen.startCitizenChat("nts126", "nts126.general", "저장 확인", "연락처 010-9876-5432 로 연락 주세요")
	stored := func() string {
		return eval[string](citizen, `localStorage.getItem("tellonce.chat") || ""`)
	}
	if s := stored(); s == "" {
		t.Fatal("an open chat is not kept for a reload")
	}
	// Leave as a citizen does, once the page has settled (the place and
	// the callback offer above the button move it while they render).
	citizen.waitFor("place shown", `/\d/.test(document.querySelector("#where")?.textContent || "")`)
	citizen.do("leave", chromedp.Evaluate[chromedp.Void](`document.querySelector("#leave").click()`))
	citizen.waitFor("asked to confirm", `!document.querySelector("#leave-confirm").hidden`)
	citizen.do("confirm", chromedp.Evaluate[chromedp.Void](`document.querySelector("#leave-yes").click()`))
	citizen.waitFor("chat ended", `!document.querySelector("#ended-box").hidden`)
	if s := stored(); s != "" {
		t.Errorf("after the end the browser keeps %s", s)
	}
	citizen.do("reload", chromedp.Reload())
	citizen.waitFor("start page", `!document.querySelector("#start-view").hidden`)
	if s := stored(); s != "" {
		t.Errorf("after a reload the browser keeps %s", s)
	}
	if n := eval[int](citizen, `Object.keys(localStorage).filter((k) => k !== "tellonce.caller" && k !== "tellonce.big").length`); n != 0 {
		t.Errorf("after the end the browser keeps %d other entries: %s", n, eval[string](citizen, `JSON.stringify(localStorage)`))
	}
}

// A citizen whose page lost its record of a waiting chat (storage cleared)
// and starts again in the same line is taken back to their place, not
// told to find a window they no longer have.
func TestChatRejoinsItsPlace(t *testing.T) {
	b := newBrowser(t)
	citizen := b.page("citizen")
	citizen.startCitizenChat("nts126", "nts126.general", "다시 찾기", "자리 확인")
	first := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).contact_id`)
	token := eval[string](citizen, `JSON.parse(localStorage.getItem("tellonce.chat")).token`)
	t.Cleanup(func() { // later tests use this line
		(&apiClient{t: t}).call("DELETE", "/v1/contacts/"+first+"?token="+token, nil, nil)
	})
	// Away from the chat page (which would save the chat again), the
	// browser loses its record of it.
	citizen.navigate("/status")
	citizen.do("forget", chromedp.Evaluate[chromedp.Void](`localStorage.removeItem("tellonce.chat")`))
	citizen.startCitizenChat("nts126", "nts126.general", "다시 찾기", "또 시작")
	citizen.waitFor("back in the first place", `(JSON.parse(localStorage.getItem("tellonce.chat")) || {}).contact_id === `+jsString(first))
	citizen.waitFor("the place shown", `/\d/.test(document.querySelector("#where")?.textContent || "")`)
}

package uitest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// An agent reloads the desk in the middle of a chat: the desk comes back
// with the chat, its conversation, the unsent draft and the tab in front,
// and the conversation goes on. Then the server restarts under them: the
// desk says clearly that the connection dropped, reconnects by itself and
// is back as it was, and so is the citizen's chat.
func TestDeskReloadAndReconnect(t *testing.T) {
	b := newBrowser(t)
	agent := b.page("kang.sora")
	citizen := b.page("citizen")

	agent.loginAs("kang.sora", demoPassword)
	agent.goAvailable()
	citizen.startCitizenChat("hikorea1345", "hikorea1345.korean", "응우옌 반 안", "체류 기간 연장을 문의합니다.")

	agent.waitFor("offer", `!document.querySelector("#offer").hidden`)
	agent.click("#offer-accept")
	agent.waitFor("chat open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	agent.sayOnDesk("안녕하세요, 1345 강소라입니다.")
	citizen.waitText("greeting", "#log", "강소라입니다")
	citizen.typeInto("#say", "비자가 다음 달에 끝나요.")
	citizen.key(kb.Enter)
	agent.waitText("citizen's words", deskPanel+" [data-part=messages]", "다음 달에 끝나요")

	const draft = "연장 신청은 하이코리아에서"
	agent.typeInto(deskPanel+" textarea[data-part=say]", draft)
	agent.typeInto(deskPanel+" textarea[data-part=note]", "체류 만료 다음 달")
	agent.do("reload", chromedp.Reload())

	agent.waitFor("desk back", `document.querySelector("#conn")?.classList.contains("ok")`)
	agent.waitText("conversation back", deskPanel+" [data-part=messages]", "다음 달에 끝나요")
	agent.waitText("own words back", deskPanel+" [data-part=messages]", "강소라입니다")
	agent.waitText("state back", "#state-now", "상담 중")
	if got := eval[string](agent, `document.querySelector(`+jsString(deskPanel+" textarea[data-part=say]")+`).value`); got != draft {
		t.Errorf("draft after reload = %q; want %q", got, draft)
	}
	if got := eval[string](agent, `document.querySelector(`+jsString(deskPanel+" textarea[data-part=note]")+`).value`); got != "체류 만료 다음 달" {
		t.Errorf("note draft after reload = %q", got)
	}
	agent.shot("desk-after-reload-ko")

	// The conversation goes on from the restored desk.
	agent.do("clear draft", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(deskPanel+" textarea[data-part=say]")+`).value = ""`))
	agent.sayOnDesk("연장 신청은 하이코리아에서 하실 수 있습니다.")
	citizen.waitText("citizen hears after the reload", "#log", "하이코리아에서 하실 수")
	agent.noRawKeys()

	// The server goes away and comes back.
	agent.typeInto(deskPanel+" textarea[data-part=say]", "잠시만요")
	// Record what the desk shows while the server is away: the banner may
	// be gone again by the time the restart returns.
	agent.do("watch the banner", chromedp.Evaluate[chromedp.Void](`(() => {
		const b = document.querySelector("#banner");
		new MutationObserver(() => { if (!b.hidden) window.sawDrop = document.querySelector("#banner-text").textContent; })
			.observe(b, {attributes: true, childList: true, subtree: true});
	})()`))
	restartServer(t)
	agent.waitFor("the drop was shown", `!!window.sawDrop`)
	if drop := eval[string](agent, `window.sawDrop`); !strings.Contains(drop, "연결이 끊겼습니다") {
		t.Errorf("banner while the server was away = %q", drop)
	}
	agent.waitFor("back by itself", `document.querySelector("#conn").classList.contains("ok") && document.querySelector("#banner").hidden`)
	agent.waitText("chat back after the restart", deskPanel+" [data-part=messages]", "하이코리아에서 하실 수")
	if got := eval[string](agent, `document.querySelector(`+jsString(deskPanel+" textarea[data-part=say]")+`).value`); got != "잠시만요" {
		t.Errorf("draft after the restart = %q", got)
	}
	agent.do("clear draft", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(deskPanel+" textarea[data-part=say]")+`).value = ""`))
	agent.sayOnDesk("서버가 다시 시작되었지만 상담은 이어집니다.")
	citizen.waitText("citizen hears after the restart", "#log", "상담은 이어집니다")
	citizen.typeInto("#say", "네 감사합니다")
	citizen.key(kb.Enter)
	agent.waitText("agent hears the citizen after the restart", deskPanel+" [data-part=messages]", "네 감사합니다")
	if n := eval[int](citizen, `[...document.querySelectorAll("#log .divider")].filter(d => d.textContent.includes("강소라")).length`); n != 1 {
		t.Errorf("the citizen's chat says the agent joined %d times; want once", n)
	}
}

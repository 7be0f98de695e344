package uitest

import (
	"testing"

	"github.com/chromedp/chromedp/kb"
)

// An agent brings a Vietnamese interpreter into a chat. The interpreter's
// offer says it is an interpreter request and shows the case; once
// accepted, the interpreter reads the citizen's earlier words and speaks
// into the conversation, which the citizen and the agent see labelled as
// the interpreter's; when the interpreter leaves, the agent's desk says so
// and offers to bring one in again.
func TestInterpreterJoinsChat(t *testing.T) {
	b := newBrowser(t)
	citizen := b.page("citizen")
	agent := b.page("park.seoyeon")
	interp := b.page("tran.mai")

	const (
		caller  = "응우옌 티 투"
		earlier = "Xin chào, tôi cần gia hạn thị thực."
		note    = "체류 기간 연장 문의입니다. 시민이 한국어가 서툽니다."
		spoken  = "안녕하세요, 통역사 쩐마이입니다. Tôi là phiên dịch viên."
	)

	agent.loginAs("park.seoyeon", demoPassword)
	agent.goAvailable()
	citizen.startCitizenChat("gov110", "gov110.general", caller, "비자 연장")
	agent.waitFor("offer shown", `!document.querySelector("#offer").hidden`)
	agent.waitText("the offer is this citizen's", "#offer-title", caller)
	agent.click("#offer-accept")
	agent.waitFor("chat tab open", `!!document.querySelector(`+jsString(deskPanel)+`)`)

	citizen.waitText("citizen sees the agent", "#where-main", "박서연")
	citizen.typeInto("#say", earlier)
	citizen.key(kb.Enter)
	agent.waitText("agent sees the citizen", deskPanel+" [data-part=messages]", earlier)

	// Bring in an interpreter by keyboard: Esc leaves the message box, I
	// opens the dialog. The caller chose Korean, so English is the default.
	agent.key(kb.Escape)
	agent.shortcut("i")
	agent.waitFor("interpreter dialog", `document.querySelector("#interpret-dialog").open`)
	if got := eval[string](agent, `document.querySelector("#interpret-language").value`); got != "en" {
		t.Errorf("default interpreter language = %q; want en for a caller who chose Korean", got)
	}
	agent.selectValue("#interpret-language", "vi")
	agent.typeInto("#interpret-note", note)
	agent.click("#interpret-share") // the interpreter may read the conversation so far
	agent.shot("desk-interpret-dialog-ko")
	agent.noRawKeys()
	agent.click("#interpret-submit")
	agent.waitFor("dialog closed", `!document.querySelector("#interpret-dialog").open`)
	agent.waitText("request shown", deskPanel+" [data-part=interp]", "통역 요청 중")
	agent.waitText("request names the language", deskPanel+" [data-part=interp]", "베트남어")
	agent.waitText("the request can be cancelled", deskPanel+" [data-part=interp-release]", "요청 취소")

	// The interpreter's offer is labelled as such, with the whole case.
	interp.loginAs("tran.mai", demoPassword)
	interp.goAvailable()
	interp.waitFor("interpreter offer", `!document.querySelector("#offer").hidden`)
	interp.waitText("labelled an interpreter request", "#offer-title", "통역 요청")
	interp.waitText("offer names the language", "#offer-meta", "베트남어")
	interp.waitText("offer names the requesting agency", "#offer-meta", "정부민원안내콜센터 110")
	interp.waitText("offer shows the agent's note", "#offer-case", note)
	interp.waitText("offer shows the citizen's words", "#offer-case", earlier)
	interp.shot("desk-interpreter-offer-ko")
	interp.noRawKeys()
	interp.click("#offer-accept")
	interp.waitFor("interpreting tab open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	interp.waitText("tab says interpreting", deskPanel+" [data-part=title]", "통역")
	interp.waitText("interpreter reads the earlier message", deskPanel+" [data-part=messages]", earlier)
	if eval[bool](interp, `!document.querySelector(`+jsString(deskPanel+" [data-part=transfer]")+`).hidden`) {
		t.Error("an interpreter's tab offers a transfer")
	}

	agent.waitText("agent sees the interpreter joined", deskPanel+" [data-part=interp]", "쩐마이")
	agent.waitText("the case's legs show the interpreter's, live", deskPanel+" [data-part=legs]", "쩐마이")
	citizen.waitText("citizen told the interpreter joined", "#log", "통역사 쩐마이")

	interp.sayOnDesk(spoken)
	citizen.waitText("citizen sees the interpreter's words", "#log", spoken)
	citizen.waitText("labelled as the interpreter's", "#log .from-interpreter .msg-who", "(통역)")
	agent.waitText("agent sees the interpreter's words", deskPanel+" [data-part=messages]", spoken)
	agent.waitText("labelled on the desk too", deskPanel+" .from-interpreter .msg-who", "(통역)")
	citizen.shot("chat-interpreter-ko")
	agent.shot("desk-interpreter-joined-ko")

	// The interpreter leaves their own leg only.
	interp.key(kb.Escape)
	interp.shortcut("e")
	interp.waitFor("leave dialog", `document.querySelector("#end-dialog").open`)
	interp.waitText("dialog says leave", "#end-title", "통역 마치기")
	if eval[bool](interp, `!document.querySelector("#end-callback-box").hidden`) {
		t.Error("an interpreter is offered to file a callback")
	}
	interp.noRawKeys()
	interp.click("#end-submit")
	interp.waitFor("dialog closed", `!document.querySelector("#end-dialog").open`)
	interp.waitText("interpreter's tab ended", deskPanel+" [data-part=status]", "종료")

	agent.waitText("agent sees the interpreter left", deskPanel+" [data-part=interp]", "나갔습니다")
	agent.waitFor("interpreter can be asked again", `!document.querySelector(`+jsString(deskPanel+" [data-part=interpret]")+`).hidden`)
	agent.waitText("the chat is still live", deskPanel+" [data-part=status]", "상담 중")
	citizen.waitText("citizen told the interpreter left", "#log", "나갔습니다")
	agent.shot("desk-interpreter-left-ko")
	for _, p := range []*page{citizen, agent, interp} {
		p.noRawKeys()
	}

	// The agent ends the chat, so that nothing of it returns to the line
	// after the test.
	agent.key(kb.Escape)
	agent.shortcut("e")
	agent.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	agent.waitText("an agent's dialog", "#end-title", "상담 종료")
	agent.click("#end-submit")
	citizen.waitFor("citizen sees the end", `!document.querySelector("#ended-box").hidden`)
}

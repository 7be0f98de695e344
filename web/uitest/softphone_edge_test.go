package uitest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"tellonce/sipptest"
)

// edgeDialPlan sends 126's callers who key 1 1, or 1 2, to the softphone
// tests' own lines.
const edgeDialPlan = `
numbers:
  "126": main
menus:
  main:
    greeting: nts126.main
    timeout: 2s
    default: {queue: nts126.general}
    choices:
      "1": {menu: tax}
  tax:
    greeting: nts126.tax
    default: {queue: nts126.general}
    choices:
      "1": {queue: nts126.uitest-sp-call}
      "2": {queue: nts126.uitest-sp-warm}
`

// startEdge runs "tellonce edge" (the built binary) against the test
// server as the demo gateway, on a free loopback SIP port, and returns
// that address once the edge listens on it.
func startEdge(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	plan := filepath.Join(dir, "dialplan.yaml")
	if err := os.WriteFile(plan, []byte(edgeDialPlan), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(dir, "edge.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(server.bin, "edge", "--sip-udp", addr, "--sip-tcp", "", "--router", baseURL+"/",
		"--gateway-user", "gateway", "--dialplan", plan, "--announce-every", "5s", "--ring-timeout", "15s")
	cmd.Env = append(os.Environ(), "TELLONCE_GATEWAY_PASSWORD="+demoPassword)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the edge: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("edge log (last 6000 bytes):\n%s", tail(b, 6000))
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !udpBound(port) {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the edge exited before listening:\n%s", tail(b, 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge did not listen on %s within 30 s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr
}

// udpBound reports whether some process listens on the UDP port.
func udpBound(port int) bool {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 1 && strings.HasSuffix(fields[1], want) {
			return true
		}
	}
	return false
}

// callAudio waits until the page's call has received and sent at least n
// RTP packets (getStats, for the peer connection it has now).
func callAudio(p *page, what string, n int) {
	p.b.t.Helper()
	p.waitFor(what, fmt.Sprintf(`(async () => {
		const s = await window.tellonceSoftphone.stats();
		return !!s && s.state === "connected" && s.inbound.packets >= %d && s.outbound.packets >= %d && s.inbound.bytes > 0 && s.outbound.bytes > 0;
	})()`, n, n))
}

// sippEchoedMore waits until the SIPp caller has echoed n more RTP packets
// than from: audio from the agent's browser reached the caller.
func sippEchoedMore(t *testing.T, what string, p *sipptest.Process, from, n int) int {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for {
		_, echoed := p.RTP()
		if echoed >= from+n {
			return echoed
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: SIPp echoed %d RTP packets, want at least %d", what, echoed, from+n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The softphone's journey of the issue: a SIPp caller dials 126 and keys
// 1 1 into a line of 126; an agent of 126 with no desk phone hears it ring in
// the desk and accepts; audio flows both ways between SIPp and Chromium
// through the edge (getStats in the page, RTP counts at SIPp); hold and
// unhold, mute; a reload mid-call and the call goes on; a second tab asks
// before it takes the call, then carries it; a cold transfer to
// an agent of another agency re-bridges the audio to her browser, and her
// desk shows the case, the menu choices and the note; she ends the call
// and SIPp hears the edge hang up.
func TestSoftphoneCallThroughTheEdge(t *testing.T) {
	softphoneLine(t, "nts126", "uitest-sp-call", "소프트폰 연말정산 시험", "sp-han")
	softphoneLine(t, "kdca1339", "uitest-sp-vacc", "소프트폰 접종 시험", "sp-choi")
	edgeAddr := startEdge(t)
	b := newBrowser(t, mediaFlags...)
	han := b.page("sp-han")
	han.loginAs("sp-han", demoPassword)
	han.goAvailable()
	han.waitFor("han's softphone on", `window.tellonceSoftphone.state().on`)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	caller := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Caller, Remote: edgeAddr, Service: "126",
		Media: &sipptest.Media{Lead: 500 * time.Millisecond, Digits: "11", After: 100 * time.Second},
		Echo:  true, Hold: 150 * time.Second})

	han.waitFor("the call's offer", `!document.querySelector("#offer").hidden`)
	han.waitText("the menu choices in the offer", "#offer-case", "1 › 1")
	if !eval[bool](han, `window.tellonceSoftphone.state().ringing`) {
		t.Error("the voice offer does not ring in han's browser desk")
	}
	_, before := caller.RTP()
	han.click("#offer-accept")
	han.waitFor("call open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	callAudio(han, "audio both ways in han's page", 100)
	han.waitText("connected", "#sp-status", "통화 연결됨")
	echoed := sippEchoedMore(t, "han's voice at the caller", caller, before, 50)
	t.Logf("bridged to han: page %s; SIPp echoed %d RTP packets (%d before the accept)",
		eval[string](han, `window.tellonceSoftphone.stats().then(JSON.stringify)`, chromedp.EvalAwaitPromise), echoed, before)
	han.shot("softphone-edge-call-ko")

	// Hold: the caller hears hold audio; unhold, and the talk goes on.
	han.click("#sp-hold")
	han.waitText("held", "#sp-status", "보류 중")
	han.click("#sp-hold")
	han.waitText("back from hold", "#sp-status", "통화 연결됨")
	callAudio(han, "audio after the hold", 150)

	// Mute and unmute: the page's own.
	han.click("#sp-mute")
	han.waitFor("muted", `window.tellonceSoftphone.state().muted`)
	han.click("#sp-mute")
	han.waitFor("unmuted", `!window.tellonceSoftphone.state().muted`)

	// A reload mid-call: the desk asks for a fresh offer and the call
	// resumes on a new peer connection.
	han.typeInto(deskPanel+" textarea[data-part=note]", "연말정산 간소화 자료 문의, 의료비 누락")
	han.click(deskPanel + " [data-part=note-form] button")
	han.waitText("note saved", deskPanel+" [data-part=timeline]", "의료비 누락")
	han.do("reload", chromedp.Reload())
	han.waitFor("desk back", `document.querySelector("#conn")?.classList.contains("ok") && !!document.querySelector(`+jsString(deskPanel)+`)`)
	callAudio(han, "audio after the reload", 50)
	echoed = sippEchoedMore(t, "han's voice after the reload", caller, echoed, 50)

	// A second tab of han's asks before it takes the call, then carries it.
	first := han
	han = b.pageIn(first, "sp-han-2")
	han.navigate("/console")
	han.waitFor("the move prompt", `document.querySelector("#take-dialog").open`)
	han.shot("softphone-edge-move-prompt-ko")
	han.click("#take-yes")
	han.waitFor("the second tab holds the softphone", `window.tellonceSoftphone.state().on`)
	callAudio(han, "audio in the second tab", 50)
	echoed = sippEchoedMore(t, "han's voice from the second tab", caller, echoed, 50)
	first.waitFor("the first tab let go", `!window.tellonceSoftphone.state().call`)

	// A cold transfer to the vaccination line of another agency.
	choi := b.page("sp-choi")
	choi.loginAs("sp-choi", demoPassword)
	choi.goAvailable()
	choi.waitFor("choi's softphone on", `window.tellonceSoftphone.state().on`)
	const handover = "의료비 공제 관련 예방접종 확인서 발급 문의입니다."
	han.key(kb.Escape)
	han.shortcut("t")
	han.waitFor("transfer dialog", `document.querySelector("#transfer-dialog").open`)
	han.typeInto("#transfer-search", "소프트폰 접종")
	han.waitFor("1339 found", `!!document.querySelector('#transfer-list input[value="queue:kdca1339.uitest-sp-vacc"]')`)
	han.click(`#transfer-list input[value="queue:kdca1339.uitest-sp-vacc"]`)
	han.typeInto("#transfer-note", handover)
	han.click("#transfer-submit")
	han.waitFor("dialog closed", `!document.querySelector("#transfer-dialog").open`)

	choi.waitFor("offer to choi", `!document.querySelector("#offer").hidden`)
	for _, want := range []string{handover, "1 › 1", "의료비 누락", "소프트폰 sp-han"} {
		choi.waitText("choi's offer shows "+want, "#offer-case", want)
	}
	choi.click("#offer-accept")
	choi.waitFor("choi's call open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	callAudio(choi, "audio both ways in choi's page", 100)
	sippEchoedMore(t, "choi's voice at the caller", caller, echoed, 50)
	han.waitFor("han let go of the call", `!window.tellonceSoftphone.state().call`)
	for _, want := range []string{handover, "의료비 누락"} {
		choi.waitText("choi's case shows "+want, deskPanel+" [data-part=timeline]", want)
	}
	choi.waitText("choi's case shows the menu choices", deskPanel+" [data-part=context]", "1 › 1")
	choi.shot("softphone-edge-transferred-ko")
	choi.noRawKeys()

	// Choi ends the call: the edge hangs up the caller.
	choi.key(kb.Escape)
	choi.shortcut("e")
	choi.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	choi.typeInto("#end-summary", "확인서 발급 안내")
	choi.click("#end-submit")
	choi.waitFor("choi's softphone idle", `!window.tellonceSoftphone.state().call`)
	res, err := caller.Wait()
	if err != nil || res.Successful != 1 || res.Count("BYE_Recv") != 1 {
		t.Fatalf("SIPp caller: %v %s; want one successful call the edge hung up", err, res)
	}
}

// A warm transfer from one browser agent to another: the first agent stays
// on the line, with audio, until the second accepts; then the second's
// browser carries the call and the first lets go.
func TestSoftphoneWarmTransferThroughTheEdge(t *testing.T) {
	softphoneLine(t, "nts126", "uitest-sp-warm", "소프트폰 웜 전환 시험", "sp-yoon")
	softphoneLine(t, "kdca1339", "uitest-sp-warm2", "소프트폰 웜 받는 창구", "sp-jung")
	edgeAddr := startEdge(t)
	b := newBrowser(t, mediaFlags...)
	yoon := b.page("sp-yoon")
	yoon.loginAs("sp-yoon", demoPassword)
	yoon.goAvailable()
	yoon.waitFor("yoon's softphone on", `window.tellonceSoftphone.state().on`)
	jung := b.page("sp-jung")
	jung.loginAs("sp-jung", demoPassword)
	jung.goAvailable()
	jung.waitFor("jung's softphone on", `window.tellonceSoftphone.state().on`)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	caller := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Caller, Remote: edgeAddr, Service: "126",
		Media: &sipptest.Media{Lead: 500 * time.Millisecond, Digits: "12", After: 100 * time.Second}, Echo: true, Hold: 150 * time.Second})

	yoon.waitFor("the call's offer", `!document.querySelector("#offer").hidden`)
	yoon.click("#offer-accept")
	yoon.waitFor("call open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	callAudio(yoon, "audio both ways in yoon's page", 50)

	yoon.key(kb.Escape)
	yoon.shortcut("t")
	yoon.waitFor("transfer dialog", `document.querySelector("#transfer-dialog").open`)
	yoon.typeInto("#transfer-search", "소프트폰 웜 받는")
	yoon.waitFor("1339 found", `!!document.querySelector('#transfer-list input[value="queue:kdca1339.uitest-sp-warm2"]')`)
	yoon.click(`#transfer-list input[value="queue:kdca1339.uitest-sp-warm2"]`)
	yoon.click(`#transfer-form input[name=mode][value=warm]`)
	yoon.typeInto("#transfer-note", "해외 입국 후 발열, 신고 절차 문의")
	yoon.click("#transfer-submit")
	yoon.waitFor("dialog closed", `!document.querySelector("#transfer-dialog").open`)

	// Until jung accepts, yoon is still on the line.
	jung.waitFor("offer to jung", `!document.querySelector("#offer").hidden`)
	jung.waitText("jung's offer shows the note", "#offer-case", "신고 절차 문의")
	callAudio(yoon, "yoon still talking during the warm transfer", 150)
	jung.click("#offer-accept")
	jung.waitFor("jung's call open", `!!document.querySelector(`+jsString(deskPanel)+`)`)
	callAudio(jung, "audio both ways in jung's page", 100)
	yoon.waitFor("yoon let go of the call", `!window.tellonceSoftphone.state().call`)
	_, echoed := caller.RTP()
	sippEchoedMore(t, "jung's voice at the caller", caller, echoed, 50)

	jung.key(kb.Escape)
	jung.shortcut("e")
	jung.waitFor("end dialog", `document.querySelector("#end-dialog").open`)
	jung.click("#end-submit")
	res, err := caller.Wait()
	if err != nil || res.Successful != 1 || res.Count("BYE_Recv") != 1 {
		t.Fatalf("SIPp caller: %v %s; want one successful call the edge hung up", err, res)
	}
}

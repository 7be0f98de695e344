package uitest

import (
	"net/http"
	"testing"
)

// recordSockets keeps, from the next document on, every WebSocket the
// page opens in window.sockets: its url and, once it closed, the close
// code the page saw.
func (p *page) recordSockets() {
	p.b.t.Helper()
	p.onNewDocument("record sockets", `window.sockets = [];
				window.WebSocket = class extends WebSocket {
					constructor(...args) {
						super(...args);
						const s = { url: String(args[0]), code: 0 };
						window.sockets.push(s);
						this.addEventListener("close", (ev) => { s.code = ev.code; });
					}
				};`)
}

// A desk whose login ends (here: the admin changes the agent's
// permissions) says so at once, in Korean, and offers to log in again
// rather than reconnecting in a loop. Its socket gets the server's
// signed-out close (4003), not a reset that the desk would take for a
// dropped connection (1006) and reconnect after: the desk sends its
// softphone claim right after hello, which races the sign-out here.
func TestDeskSaysSignedOut(t *testing.T) {
	b := newBrowser(t)
	admin := login(t, "admin", adminPassword)
	const name = "uitest.signout"
	if code := admin.call("POST", "/v1/users", map[string]any{"username": name, "name": "로그아웃 확인", "password": demoPassword,
		"role": "agent", "agency": "gov110", "queues": []map[string]any{{"queue": "gov110.general", "level": 1}}}, nil); code != http.StatusCreated {
		t.Fatalf("create agent: %d", code)
	}
	t.Cleanup(func() { admin.call("DELETE", "/v1/users/"+name, nil, nil) })
	agent := b.page(name)
	agent.recordSockets()
	agent.loginAs(name, demoPassword)
	agent.navigate("/console")
	agent.waitFor("desk connected", `document.querySelector("#conn")?.classList.contains("ok")`)

	if code := admin.call("PATCH", "/v1/users/"+name, map[string]any{"pii": true}, nil); code != http.StatusOK {
		t.Fatalf("change the agent's permissions: %d", code)
	}
	agent.waitFor("the desk's socket closed", `window.sockets.length > 0 && window.sockets[0].code !== 0`)
	if code := eval[int](agent, `window.sockets[0].code`); code != 4003 {
		t.Fatalf("the desk's socket closed with %d; want 4003 (signed out)", code)
	}
	agent.waitText("signed-out banner", "#banner-text", "로그아웃되었습니다")
	agent.waitFor("banner offers to log in", `!document.querySelector("#banner").hidden && document.querySelector("#banner-retry").textContent.trim() !== ""`)
	if up := eval[bool](agent, `document.querySelector("#conn").classList.contains("ok")`); up {
		t.Error("the desk still shows itself connected")
	}
	if n := eval[int](agent, `window.sockets.length`); n != 1 {
		t.Errorf("the desk opened %d sockets; want 1: a signed-out desk does not reconnect", n)
	}
	agent.shot("desk-signed-out-ko")
}

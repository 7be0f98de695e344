package uitest

import (
	"net/http"
	"testing"
)

// A desk whose login ends (here: the admin changes the agent's
// permissions) says so at once, in Korean, and offers to log in again
// rather than reconnecting in a loop.
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
	agent.loginAs(name, demoPassword)
	agent.navigate("/console")
	agent.waitFor("desk connected", `document.querySelector("#conn")?.classList.contains("ok")`)

	if code := admin.call("PATCH", "/v1/users/"+name, map[string]any{"pii": true}, nil); code != http.StatusOK {
		t.Fatalf("change the agent's permissions: %d", code)
	}
	agent.waitText("signed-out banner", "#banner-text", "로그아웃되었습니다")
	agent.waitFor("banner offers to log in", `!document.querySelector("#banner").hidden && document.querySelector("#banner-retry").textContent.trim() !== ""`)
	if up := eval[bool](agent, `document.querySelector("#conn").classList.contains("ok")`); up {
		t.Error("the desk still shows itself connected")
	}
	agent.shot("desk-signed-out-ko")
}

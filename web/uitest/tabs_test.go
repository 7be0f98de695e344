package uitest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"
)

// citizenSocket is a citizen's chat socket driven from the test.
func citizenSocket(t *testing.T, contactID, token string) *websocket.Conn {
	t.Helper()
	url := strings.Replace(baseURL, "http://", "ws://", 1) + "/v1/contacts/" + contactID + "/ws?token=" + token
	ws, res, err := websocket.DefaultDialer.Dial(url, http.Header{})
	if err != nil {
		t.Fatalf("citizen socket: %v (%v)", err, res)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// Several chats at once, in tabs: keys pick a tab, the one in front takes
// the typing, and a message for a chat behind is flagged on its tab.
func TestDeskChatsInTabs(t *testing.T) {
	b := newBrowser(t)
	agent := b.page("yoon.taeyang")
	agent.loginAs("yoon.taeyang", demoPassword)
	agent.goAvailable()

	firstID, firstToken := openChatToken(t, "nts126.general", "tabs-caller-1")
	agent.waitFor("first offer", `!document.querySelector("#offer").hidden`)
	agent.shortcut("a")
	agent.waitFor("first tab", `document.querySelectorAll("#tabs [role=tab]").length === 1`)
	openChatToken(t, "nts126.general", "tabs-caller-2")
	agent.waitFor("second offer", `!document.querySelector("#offer").hidden`)
	agent.click("#offer-accept")
	agent.waitFor("second tab", `document.querySelectorAll("#tabs [role=tab]").length === 2`)
	agent.waitFor("second in front", `document.querySelectorAll("#tabs [role=tab]")[1].getAttribute("aria-selected") === "true"`)

	// The first chat's citizen writes while the second is in front.
	ws := citizenSocket(t, firstID, firstToken)
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteJSON(map[string]string{"type": "say", "text": "첫 번째 창의 질문입니다"}); err != nil {
		t.Fatal(err)
	}
	agent.waitText("unread flag on the first tab", "#tabs [role=tab]:first-child .tab-badge", "새 메시지")

	// Esc leaves the message box, 1 brings the first chat to the front.
	agent.key(kb.Escape)
	agent.shortcut("1")
	agent.waitFor("first in front", `document.querySelectorAll("#tabs [role=tab]")[0].getAttribute("aria-selected") === "true"`)
	agent.waitText("first chat shows the question", deskPanel+" [data-part=messages]", "첫 번째 창의 질문입니다")
	if badge := agent.text("#tabs [role=tab]:first-child .tab-badge"); badge != "" {
		t.Errorf("the tab in front still flags %q", badge)
	}
	agent.sayOnDesk("네, 첫 번째 분께 답합니다.")
	agent.shot("desk-two-tabs-ko")
	agent.noRawKeys()
}

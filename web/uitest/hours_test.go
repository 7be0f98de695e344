package uitest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// An admin gives a new chat line opening hours in the form; outside them
// the chat page names the line closed with its next opening, in words, and
// does not start a chat, and the wallboard shows it closed.
func TestClosedLineInChatAndWallboard(t *testing.T) {
	b := newBrowser(t)
	admin := b.page("admin")
	admin.loginAs("admin", adminPassword)
	admin.navigate("/admin#queues")
	admin.waitText("queues of the first agency", "#queue-rows", "gov110.general")

	// One hour a day, two hours from now in Seoul: closed now, every day.
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	h := (time.Now().In(seoul).Hour() + 2) % 24
	rng := fmt.Sprintf("%02d:00-%02d:00", h, h+1)
	var lines []string
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		lines = append(lines, d+" "+rng)
	}

	admin.click("#queue-new")
	admin.waitFor("form open", `!document.querySelector("#queue-form").hidden`)
	admin.typeInto("#q-id", "night-desk")
	admin.typeInto("#q-name", "야간 창구")
	admin.setValue("#q-aging", "-1")
	admin.setValue("#q-hours", strings.Join(lines, "\n"))
	admin.click(`#queue-form button[type=submit]`)
	admin.waitFor("error beside aging", `!document.querySelector('[data-error-for="aging_s"]').hidden`)
	admin.setValue("#q-aging", "60")
	admin.setValue("#q-help", "-1")
	admin.click(`#queue-form button[type=submit]`)
	admin.waitFor("error beside the help reserve", `!document.querySelector('[data-error-for="help_while.min_idle"]').hidden`)
	admin.setValue("#q-help", "2")
	admin.click(`#queue-form button[type=submit]`)
	admin.waitFor("form closed", `document.querySelector("#queue-form").hidden`)
	admin.waitText("new queue listed", "#queue-rows", "gov110.night-desk")
	t.Cleanup(func() { // the other tests share the server: leave no closed line behind
		if code := login(t, "admin", adminPassword).call("DELETE", "/v1/queues/gov110.night-desk", nil, nil); code != 204 {
			t.Errorf("DELETE the closed line = %d", code)
		}
	})

	var q struct {
		AgingS    int                            `json:"aging_s"`
		Hours     map[string][]map[string]string `json:"hours"`
		HelpWhile struct {
			MinIdle int `json:"min_idle"`
		} `json:"help_while"`
	}
	if code := login(t, "admin", adminPassword).call("GET", "/v1/queues/gov110.night-desk", nil, &q); code != 200 || q.AgingS != 60 ||
		len(q.Hours["sun"]) != 1 || q.HelpWhile.MinIdle != 2 {
		t.Fatalf("GET the new queue = %d, aging_s %d, hours %v, help_while %+v", code, q.AgingS, q.Hours, q.HelpWhile)
	}

	citizen := b.page("citizen")
	citizen.navigate("/chat")
	citizen.waitFor("chat form", `!!document.querySelector("#queue option")`)
	citizen.setValue("#agency", "gov110")
	citizen.do("choose the agency", chromedp.Evaluate[chromedp.Void](`document.querySelector("#agency").dispatchEvent(new Event("change"))`))
	citizen.setValue("#queue", "gov110.night-desk")
	citizen.do("choose the line", chromedp.Evaluate[chromedp.Void](`document.querySelector("#queue").dispatchEvent(new Event("change"))`))
	citizen.waitText("closed in words", "#queue-now", "운영 시간이 아닙니다")
	if !strings.Contains(citizen.text("#queue-now"), fmt.Sprintf("%02d:00에 엽니다", h)) {
		t.Errorf("closed line says %q; want its opening at %02d:00", citizen.text("#queue-now"), h)
	}
	if !eval[bool](citizen, `document.querySelector("#start").disabled`) {
		t.Error("the start button works on a closed line")
	}
	if !eval[bool](citizen, `!!document.querySelector("#queue-now .light-closed")`) {
		t.Error("the closed line has no closed badge")
	}
	citizen.shot("chat-closed-ko")

	// The supervisor's wallboard shows the line closed, in words too.
	sup := b.page("sup.gov110")
	sup.loginAs("sup.gov110", demoPassword)
	sup.navigate("/supervisor")
	const badge = `[data-queue="gov110.night-desk"] .light-closed`
	sup.waitFor("closed badge on the wallboard", `!!document.querySelector(`+jsString(badge)+`)`)
	if words := sup.text(badge); !strings.Contains(words, "운영 시간이 아닙니다") {
		t.Errorf("wallboard badge says %q; want the closed words", words)
	}
}

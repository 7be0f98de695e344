package uitest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// /status is readable with JavaScript off: every public queue with its
// light in words (원활 / 지연 / 혼잡) and the estimated wait, and it
// refreshes itself.
func TestStatusPageWithoutJavaScript(t *testing.T) {
	b := newBrowser(t)
	p := b.page("citizen")
	p.do("turn JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	p.navigate("/status")
	p.waitText("heading", "h1", "혼잡도")
	p.shot("status-ko")

	rows := eval[[]string](p, `[...document.querySelectorAll(".status-row")].map(r => r.dataset.queue)`)
	for _, want := range []string{"gov110.general", "nts126.year-end", "hikorea1345.vietnamese"} {
		if !contains(rows, want) {
			t.Errorf("status rows %v lack %s", rows, want)
		}
	}
	if refresh := eval[string](p, `document.querySelector('meta[http-equiv="refresh"]')?.content || ""`); refresh == "" {
		t.Error("the status page does not refresh itself")
	}
	if eval[bool](p, `!!document.querySelector(".notice.warn")`) {
		t.Fatal("the status page shows no lights: statistics are not served")
	}
	words := eval[[]string](p, `[...document.querySelectorAll(".status-row .light")].map(l => l.textContent.trim())`)
	if len(words) != len(rows) {
		t.Fatalf("%d lights for %d queues", len(words), len(rows))
	}
	for _, w := range words {
		if w != "원활" && w != "지연" && w != "혼잡" {
			t.Errorf("light word %q; want 원활, 지연 or 혼잡", w)
		}
	}
	waits := p.text(".status-row .wait")
	if waits == "" {
		t.Error("no estimated wait shown")
	}

	// English by a plain link, still without JavaScript.
	p.click(`a[href="/status?lang=en"]`)
	p.waitText("English heading", "h1", "How busy")
	en := eval[[]string](p, `[...document.querySelectorAll(".status-row .light")].map(l => l.textContent.trim())`)
	for _, w := range en {
		if !strings.Contains("Smooth Delayed Congested", w) {
			t.Errorf("English light word %q", w)
		}
	}
	p.shot("status-en")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

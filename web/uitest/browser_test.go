package uitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is one Chromium process for one test; each person in the test
// (citizen, agents, supervisor) is a page in a browser context of its own,
// with its own cookies and storage.
type browser struct {
	t      *testing.T
	alloc  context.Context
	root   context.Context
	pages  []*page
	cancel []context.CancelFunc
}

// page is one person's tab.
type page struct {
	b    *browser
	name string
	ctx  context.Context
}

// newBrowser starts Chromium for t, with extra command-line options if
// any; on failure every page is saved as a screenshot under
// test-output/screenshots.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	beginTest(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	)
	opts = append(opts, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(root); err != nil {
		cancelRoot()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	// A screenshot left by an earlier failing run would mislead.
	if old, _ := filepath.Glob(strings.TrimSuffix(screenshotPath(t.Name()), ".png") + "*.png"); len(old) > 0 {
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	b := &browser{t: t, alloc: alloc, root: root, cancel: []context.CancelFunc{cancelAlloc, cancelRoot}}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshots()
		}
		for i := len(b.cancel) - 1; i >= 0; i-- {
			b.cancel[i]()
		}
	})
	return b
}

// page opens a tab in a fresh browser context for one person.
func (b *browser) page(name string) *page {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open page %s: %v", name, err)
	}
	b.cancel = append(b.cancel, cancel)
	p := &page{b: b, name: name, ctx: ctx}
	b.pages = append(b.pages, p)
	return p
}

func (b *browser) screenshots() {
	screenshotMu.Lock()
	defer screenshotMu.Unlock()
	for i, p := range b.pages {
		name := b.t.Name()
		if i > 0 {
			name += "-" + p.name
		}
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			b.t.Logf("screenshot of %s: %v", p.name, err)
			continue
		}
		path := screenshotPath(name)
		if err := os.WriteFile(path, buf, 0o644); err == nil {
			b.t.Logf("screenshot of %s: %s", p.name, path)
		}
	}
}

// do runs steps on the page within a time limit, failing the test with
// the step's error.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.b.t.Helper()
	ctx, cancel := withTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.b.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// onNewDocument runs source in every document the page loads from now
// on, before the page's own scripts: how a test stands in for a browser
// API or records what the page does with one.
func (p *page) onNewDocument(what, source string) {
	p.b.t.Helper()
	p.do(what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument,
			cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: source})
		return err
	}))
}

// waitFor polls a JavaScript condition until it holds. A poll that a
// navigation cuts short (a redirect, a reload) starts again on the new
// document.
func (p *page) waitFor(what, expr string) {
	p.b.t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for {
		ctx, cancel := context.WithDeadline(p.ctx, deadline)
		err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		msg := err.Error()
		navigated := strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "context was destroyed") || strings.Contains(msg, "Cannot find context")
		if !navigated || time.Now().After(deadline) {
			p.b.t.Fatalf("%s: %s: %v", p.name, what, err)
		}
	}
}

// waitText waits until the element sel shows text.
func (p *page) waitText(what, sel, text string) {
	p.b.t.Helper()
	p.waitFor(what, fmt.Sprintf(`(document.querySelector(%s)?.innerText || "").includes(%s)`, jsString(sel), jsString(text)))
}

// eval evaluates an expression and decodes its value; opts such as
// chromedp.EvalAwaitPromise go to the evaluation.
func eval[T any](p *page, expr string, opts ...chromedp.EvaluateOption) T {
	p.b.t.Helper()
	ctx, cancel := withTimeout(p.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		p.b.t.Fatalf("%s: eval %s: %v", p.name, expr, err)
	}
	return v
}

func (p *page) text(sel string) string {
	return eval[string](p, fmt.Sprintf(`document.querySelector(%s)?.innerText || ""`, jsString(sel)))
}

func (p *page) navigate(path string) {
	p.b.t.Helper()
	p.do("open "+path, chromedp.Navigate(baseURL+path))
}

// loginAs logs a user in through the API and gives the page the session
// cookie, as the login page would.
func (p *page) loginAs(username, password string) *apiClient {
	p.b.t.Helper()
	c := login(p.b.t, username, password)
	httpOnly := true
	p.do("set session cookie", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{Name: "tellonce_session", Value: c.token,
			URL: baseURL, Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteStrict})
		return err
	}))
	return c
}

// typeInto types text into the element sel, as keystrokes.
func (p *page) typeInto(sel, text string) {
	p.b.t.Helper()
	p.onFreshNode("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *page) click(sel string) {
	p.b.t.Helper()
	p.onFreshNode("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// onFreshNode runs an action on an element, again if a navigation that was
// still settling (a redirect after load) replaced the document between
// finding the node and acting on it: the node then no longer exists.
func (p *page) onFreshNode(what string, step chromedp.Action[chromedp.Void]) {
	p.b.t.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := withTimeout(p.ctx, 30*time.Second)
		err = chromedp.Do(ctx, step)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "Could not find node with given id") {
			break
		}
	}
	if err != nil {
		p.b.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// key presses one key on the focused element (a letter, or a kb constant).
func (p *page) key(k string) {
	p.b.t.Helper()
	p.do("press "+k, chromedp.KeyEvent(k))
}

// noRawKeys fails when the page shows a message key instead of its text:
// a word missing from a catalogue.
func (p *page) noRawKeys() {
	p.b.t.Helper()
	raw := eval[[]string](p, `[...document.querySelectorAll("body *")]
		.filter(e => e.children.length === 0 && e.offsetParent !== null)
		.map(e => e.textContent.trim())
		.filter(s => /^[a-z_]+\.[a-z_.]+$/.test(s))`)
	if len(raw) > 0 {
		p.b.t.Errorf("%s shows message keys instead of text: %s", p.name, strings.Join(raw, ", "))
	}
	p.allLabelled()
}

// allLabelled fails when a visible control has no accessible name: no
// label, no aria-label(ledby), and (for a button) no text.
func (p *page) allLabelled() {
	p.b.t.Helper()
	bare := eval[[]string](p, `[...document.querySelectorAll("input, select, textarea, button")]
		.filter(e => e.type !== "hidden" && (e.offsetParent !== null || e.closest(".segmented")))
		.filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby")
			&& !(e.tagName === "BUTTON" && e.textContent.trim()))
		.map(e => e.outerHTML.slice(0, 120))`)
	if len(bare) > 0 {
		p.b.t.Errorf("%s has controls without a label: %s", p.name, strings.Join(bare, "\n  "))
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// shot saves a screenshot for a person to look at when UITEST_SHOTS is
// set (to a folder); tests call it at the moments worth seeing.
func (p *page) shot(name string) {
	dir := os.Getenv("UITEST_SHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := withTimeout(p.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.b.t.Logf("shot %s: %v", name, err)
		return
	}
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
}

// shortcut presses a letter or digit key as a browser delivers it: one keydown
// that carries the text, so that a page which handles the key and
// prevents its default also keeps the letter out of any box it focuses.
// (chromedp's KeyEvent sends the text as a separate char event.)
func (p *page) shortcut(letter string) {
	p.b.t.Helper()
	upper := strings.ToUpper(letter)
	code := "Key" + upper
	if letter >= "0" && letter <= "9" {
		code = "Digit" + letter
	}
	down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: letter, Code: code, Text: letter,
		UnmodifiedText: letter, WindowsVirtualKeyCode: int64(upper[0]), NativeVirtualKeyCode: int64(upper[0])}
	up := down
	up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
	p.do("press "+letter, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	}))
}

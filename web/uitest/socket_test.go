package uitest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// The pages' socket (web/static/socket.js) reconnects quickly at first,
// and when a server closes with 4503 "unavailable; retry in N ms" (a
// takeover under way) it waits what the server said, with up to a quarter
// added, rather than its own schedule. A stand-in WebSocket closes every
// socket at once and the wait the page chose is read from its status.
func TestSocketTakesTheServersRetryWait(t *testing.T) {
	b := newBrowser(t)
	p := b.page("citizen")
	p.navigate("/chat")
	waits := eval[map[string]float64](p, `(async () => {
		const { Socket } = await import("/static/socket.js");
		const real = window.WebSocket;
		const firstWait = (code, reason) => new Promise((resolve) => {
			window.WebSocket = class {
				constructor() { setTimeout(() => this.onclose({ code, reason }), 0); }
				close() {}
			};
			let s;
			s = new Socket("/v1/agent/ws", {
				onFrame() {},
				onStatus(st) {
					if (st.state !== "waiting") return;
					s.stop();
					resolve(st.retryAt - Date.now());
				},
			});
			s.connect();
		});
		try {
			return {
				hinted: await firstWait(4503, "unavailable; retry in 3000 ms"),
				dropped: await firstWait(1006, ""),
				tooSlow: await firstWait(1013, "too slow"),
			};
		} finally {
			window.WebSocket = real;
		}
	})()`, chromedp.EvalAwaitPromise)
	// Allow for the milliseconds between choosing the wait and reading it.
	if w := waits["hinted"]; w < 2900 || w > 3750 {
		t.Errorf("after 4503 retry in 3000 ms the page waits %.0f ms; want 3000–3750", w)
	}
	for _, k := range []string{"dropped", "tooSlow"} {
		if w := waits[k]; w < 100 || w > 300 {
			t.Errorf("%s: the first retry comes after %.0f ms; want 200–300 (250 ms ±20 %%)", k, w)
		}
	}
}

package uitest

import (
	"strings"
	"testing"
)

// The agent desk loads in under 300 KB transferred, and every request
// stays on the server's own origin (no CDN, font or analytics).
func TestDeskPageWeight(t *testing.T) {
	b := newBrowser(t)
	agent := b.page("lee.junho")
	agent.loginAs("lee.junho", demoPassword)
	agent.navigate("/console")
	agent.waitFor("desk ready", `document.querySelector("#conn")?.classList.contains("ok")`)

	type entry struct {
		Name         string  `json:"name"`
		TransferSize float64 `json:"transferSize"`
	}
	entries := eval[[]entry](agent, `[...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
		.map(e => ({name: e.name, transferSize: e.transferSize}))`)
	total := 0.0
	for _, e := range entries {
		total += e.TransferSize
		if !strings.HasPrefix(e.Name, baseURL+"/") {
			t.Errorf("the desk requested %s, off the server's origin %s", e.Name, baseURL)
		}
	}
	t.Logf("agent desk: %d requests, %.1f KB transferred", len(entries), total/1024)
	if len(entries) < 5 {
		t.Fatalf("only %d requests measured; the measurement is broken", len(entries))
	}
	if total <= 0 || total >= 300*1024 {
		t.Errorf("agent desk transferred %.1f KB; want more than 0 and under 300 KB", total/1024)
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
)

var metricNameRE = regexp.MustCompile(`\b(tellonce|go_sql)_[a-z_]+`)

// Every tellonce_ (and database pool) metric the alert rules and the dashboard read is in a
// running server's exposition: a renamed metric would leave an alert that
// never fires.
func TestAlertRulesNameRealMetrics(t *testing.T) {
	base, _ := serveWith(t, "--demo", "--metrics-token", "scrape")
	if code, _ := scrape(t, base+"v1/status", ""); code != http.StatusOK { // a request to count
		t.Fatalf("/v1/status: %d", code)
	}
	var body string
	// The request is counted once its answer is written.
	clocktest.Eventually(t, "/metrics counts the request", 10*time.Second, func() bool {
		code, b := scrape(t, base+"metrics", "scrape")
		body = b
		return code == http.StatusOK && strings.Contains(b, "tellonce_http_requests_total")
	})
	exposed := map[string]bool{}
	for line := range strings.SplitSeq(body, "\n") {
		if name, _, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			name, _, _ = strings.Cut(name, "{")
			exposed[name] = true
		}
	}
	for _, file := range []string{"../../deploy/prometheus/tellonce-alerts.yaml", "../../deploy/grafana/tellonce-dashboard.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(file, ".json") && !json.Valid(b) {
			t.Errorf("%s is not valid JSON", file)
		}
		names := metricNameRE.FindAllString(string(b), -1)
		slices.Sort(names)
		if len(names) < 5 {
			t.Errorf("%s names only %v", file, names)
		}
		for _, n := range slices.Compact(names) {
			if !exposed[n] {
				t.Errorf("%s reads %s, which /metrics does not expose", file, n)
			}
		}
	}
}

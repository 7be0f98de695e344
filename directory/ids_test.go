package directory_test

import (
	"strings"
	"testing"

	"tellonce/directory"
)

// TestIDs covers the helpers that check and take apart agency and queue
// ids, which the web package uses for its permission rules.
func TestIDs(t *testing.T) {
	for _, tc := range []struct {
		id      string
		agency  bool   // ValidAgencyID
		queue   bool   // ValidQueueID
		ofQueue string // AgencyOfQueue
	}{
		{"gov110", true, false, "gov110"},
		{"ab", true, false, "ab"},
		{"a", false, false, "a"},
		{"a" + strings.Repeat("-", 31), true, false, "a" + strings.Repeat("-", 31)},
		{strings.Repeat("a", 33), false, false, strings.Repeat("a", 33)},
		{"Gov110", false, false, "Gov110"},
		{"-gov", false, false, "-gov"},
		{"", false, false, ""},
		{"gov110.general", false, true, "gov110"},
		{"gov110.g", false, true, "gov110"},
		{"gov110.0-tax", false, true, "gov110"},
		{"gov110." + strings.Repeat("q", 32), false, true, "gov110"},
		{"gov110." + strings.Repeat("q", 33), false, false, "gov110"},
		{"gov110.", false, false, "gov110"},
		{"gov110.-tax", false, false, "gov110"},
		{"gov110.Tax", false, false, "gov110"},
		{"gov110.tax.x", false, false, "gov110"},
		{"g.tax", false, false, "g"},
		{".tax", false, false, ""},
	} {
		if got := directory.ValidAgencyID(tc.id); got != tc.agency {
			t.Errorf("ValidAgencyID(%q) = %v; want %v", tc.id, got, tc.agency)
		}
		if got := directory.ValidQueueID(tc.id); got != tc.queue {
			t.Errorf("ValidQueueID(%q) = %v; want %v", tc.id, got, tc.queue)
		}
		if got := directory.AgencyOfQueue(tc.id); got != tc.ofQueue {
			t.Errorf("AgencyOfQueue(%q) = %q; want %q", tc.id, got, tc.ofQueue)
		}
	}
	if got := directory.QueueID("gov110", "general"); got != "gov110.general" {
		t.Errorf(`QueueID("gov110", "general") = %q; want "gov110.general"`, got)
	}
}

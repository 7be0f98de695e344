package agents

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tellonce/router"
)

// A returning caller's earlier cases are masked for an agent without pii
// in every frame that carries them — offer, assigned and both halves of
// hello — and shown whole to one with it.
func TestEarlierCasesAreMasked(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	past := []router.PastCase{{ID: "cs-earlier", OpenedAt: at, ClosedAt: at.Add(time.Hour), Agencies: []string{"gov110"},
		Dispositions: []string{"resolved"}, Summary: "연락처 010-1234-5678", LastNote: "카드 4111-1111-1111-1111"}}
	cs := router.CaseView{ID: "cs-now", Status: "open", History: past}
	ct := router.ContactView{ID: "ct-now", CaseID: "cs-now", Channel: router.ChannelVoice, Status: router.StatusOffered}
	offer := offerOf("of-1", at, ct, cs)
	assigned := assignedFrame{Type: "assigned", Contact: ContactOf(ct), Case: CaseOf(cs), History: historyOf(cs.History)}
	hello := helloFrame{Type: "hello", Offers: []offerFrame{offer},
		Contacts: []assignmentJSON{{Contact: ContactOf(ct), Case: CaseOf(cs), History: historyOf(cs.History)}}}
	for _, f := range []any{offer, assigned, hello} {
		clear, err := json.Marshal(maskedFrame(f, true))
		if err != nil {
			t.Fatal(err)
		}
		hidden, err := json.Marshal(maskedFrame(f, false))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(clear), "010-1234-5678") || !strings.Contains(string(clear), `"case_id":"cs-earlier"`) {
			t.Errorf("with pii: %s; want the earlier case whole", clear)
		}
		for _, s := range []string{"1234-5678", "4111-1111"} {
			if strings.Contains(string(hidden), s) {
				t.Errorf("without pii: %s shows %q", hidden, s)
			}
		}
		if !strings.Contains(string(hidden), "010-****-5678") || !strings.Contains(string(hidden), `"dispositions":["resolved"]`) {
			t.Errorf("without pii: %s; want the earlier case, masked", hidden)
		}
	}
	// A caller without earlier cases: no history field at all.
	if b, _ := json.Marshal(offerOf("of-2", at, ct, router.CaseView{ID: "cs-new"})); strings.Contains(string(b), "history") {
		t.Errorf("offer of a first-time caller = %s; want no history", b)
	}
}

package agents

import (
	"time"

	"tellonce/cases"
	"tellonce/privacy"
)

// PastCaseJSON is one of a returning caller's earlier cases as an offer,
// an assignment and the hello frame show it (cases.PastCase): enough to
// recognise the caller; the conversation itself is read, and audited,
// through GET /v1/cases/{id}.
type PastCaseJSON struct {
	CaseID       string    `json:"case_id"`
	OpenedAt     time.Time `json:"opened_at"`
	ClosedAt     time.Time `json:"closed_at"`
	Agencies     []string  `json:"agencies"`
	Dispositions []string  `json:"dispositions"`
	Summary      string    `json:"summary"`
	LastNote     string    `json:"last_note"`
}

// historyOf maps a case's earlier cases to their JSON shape: nil (left out
// of the frame) for a caller without any.
func historyOf(h []cases.PastCase) []PastCaseJSON {
	if len(h) == 0 {
		return nil
	}
	out := make([]PastCaseJSON, len(h))
	for i, p := range h {
		out[i] = PastCaseJSON{CaseID: p.ID, OpenedAt: p.OpenedAt.UTC(), ClosedAt: p.ClosedAt.UTC(),
			Agencies: orNone(p.Agencies), Dispositions: orNone(p.Dispositions), Summary: p.Summary, LastNote: p.LastNote}
	}
	return out
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// maskHistory is h as a reader with or without pii sees it, by the rules
// of MaskCase: the summary, the note and the dispositions are free text.
func maskHistory(h []PastCaseJSON, pii bool) []PastCaseJSON {
	if h == nil {
		return nil
	}
	out := make([]PastCaseJSON, len(h))
	for i, p := range h {
		p.Summary, p.LastNote = privacy.Mask(p.Summary, pii), privacy.Mask(p.LastNote, pii)
		ds := make([]string, len(p.Dispositions))
		for j, d := range p.Dispositions {
			ds[j] = privacy.Mask(d, pii)
		}
		p.Dispositions = ds
		out[i] = p
	}
	return out
}

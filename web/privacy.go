package web

import (
	"net/url"
	"slices"

	"tellonce/privacy"
	"tellonce/transcripts"
)

// maskAudit is the access audit as a reader without the pii permission
// reads it: a search's parameters and an export's reason with phone, card
// and account numbers masked (resident registration numbers were masked
// before the row was stored). A search by a phone number is audited as it
// was asked, for the admins who may see it.
func maskAudit(items []transcripts.AuditEntry, pii bool) []transcripts.AuditEntry {
	if pii {
		return items
	}
	out := slices.Clone(items)
	for i := range out {
		out[i].Query = maskQuery(out[i].Query)
		out[i].Reason = privacy.MaskContacts(out[i].Reason)
	}
	return out
}

// maskSearchText is a search text as a reader without pii reads it: its
// numbers masked, and a number search that is a personal number once its
// separators are out ("0 1 0 1 2 3 4 5 6 7 8") masked but for its last
// four digits, as the number would be.
func maskSearchText(v string) string {
	if m := privacy.MaskContacts(v); m != v {
		return m
	}
	digits, ok := transcripts.NumberQuery(v)
	if !ok || !privacy.ContainsContact(digits) {
		return v
	}
	keep := 4
	out := []rune(v)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] >= '0' && out[i] <= '9' || out[i] >= '０' && out[i] <= '９' {
			if keep > 0 {
				keep--
				continue
			}
			out[i] = '*'
		}
	}
	return string(out)
}

// maskQuery masks the values of an encoded query (their encoding would
// hide "010 1234 5678" behind '+' signs), and keeps the text as it is when
// nothing is masked.
func maskQuery(q string) string {
	vs, err := url.ParseQuery(q)
	if err != nil {
		return privacy.MaskContacts(q)
	}
	changed := false
	for _, list := range vs {
		for i, v := range list {
			if m := maskSearchText(v); m != v {
				list[i], changed = m, true
			}
		}
	}
	if !changed {
		return q
	}
	return vs.Encode()
}

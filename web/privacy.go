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
			if m := privacy.MaskContacts(v); m != v {
				list[i], changed = m, true
			}
		}
	}
	if !changed {
		return q
	}
	return vs.Encode()
}

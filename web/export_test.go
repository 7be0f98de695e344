package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tellonce/directory"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// wantNoExport checks that r is the refusal of an export for want of the
// export permission, with the message naming it.
func wantNoExport(t *testing.T, r *response) {
	t.Helper()
	r.wantError(t, http.StatusForbidden, codeForbidden, "")
	if e, ok := strictError(t, r); ok && !strings.Contains(e.Message, "export permission") {
		t.Errorf("%s: message %q; want it to name the export permission", r, e.Message)
	}
}

// lastExport is the newest export row of the access audit.
func lastExport(t *testing.T, h *harness) transcripts.AuditEntry {
	t.Helper()
	rows := h.auditOf(t, transcripts.ActionExport)
	if len(rows) == 0 {
		t.Fatal("no export row in the access audit")
	}
	return rows[len(rows)-1]
}

// sessionExport is what GET /v1/sessions/current says of the caller's
// export permission.
func sessionExport(t *testing.T, h *harness, as string) bool {
	t.Helper()
	var s struct {
		User struct {
			Export bool `json:"export"`
		} `json:"user"`
	}
	r := h.do(http.MethodGet, "/v1/sessions/current", as, nil)
	if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &s) {
		t.FailNow()
	}
	return s.User.Export
}

// A transcript export needs the export permission besides the read rule:
// without it the answer is 403 naming it, for a case the reader may see
// and for one that does not exist alike, and the refusal is audited. Only
// an admin grants or withdraws it, and the change reaches the user's
// login at once.
func TestTranscriptExportNeedsThePermission(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		sup := h.fresh("sup-noexport")
		r := h.do(http.MethodPost, "/v1/users", asAdmin, userBody(sup, map[string]any{"role": directory.RoleSupervisor}))
		var created directory.User
		if !r.wantStatus(t, http.StatusCreated) || !r.decode(t, &created) {
			t.FailNow()
		}
		if created.Export {
			t.Fatalf("a new supervisor has the export permission: %+v", created)
		}
		h.tokens[sup] = h.loginToken(sup, testPassword)
		if sessionExport(t, h.harness, sup) {
			t.Error("GET /v1/sessions/current says export for a user without it")
		}

		reason := "정보공개청구 제2026-31호"
		export := func(caseID string) string {
			return "/v1/transcripts/" + caseID + "/export?format=csv&reason=" + url.QueryEscape(reason)
		}
		h.do(http.MethodGet, "/v1/transcripts/"+h.in, sup, nil).wantStatus(t, http.StatusOK) // reading is not exporting
		wantNoExport(t, h.do(http.MethodGet, export(h.in), sup, nil))
		got := lastExport(t, h.harness)
		if got.Username != sup || got.CaseID != h.in || got.Format != "csv" || got.Reason != reason || got.Outcome != transcripts.OutcomeDenied {
			t.Errorf("audit of the refused export %+v; want %s's denied csv export of %s with its reason", got, sup, h.in)
		}
		// A case that does not exist is answered the same: no probing.
		wantNoExport(t, h.do(http.MethodGet, export("cs-no-such-case"), sup, nil))
		if got := lastExport(t, h.harness); got.CaseID != "cs-no-such-case" || got.Outcome != transcripts.OutcomeDenied {
			t.Errorf("audit of the refused export of an unknown case %+v; want it denied", got)
		}

		// A supervisor may not grant it, nor withdraw it.
		before := h.snapshot()
		h.do(http.MethodPatch, "/v1/users/"+sup, asSup, map[string]any{"export": true}).wantError(t, http.StatusForbidden, codeForbidden, "export")
		h.unchanged(t, before, "a supervisor's grant of export")

		// The admin grants it; the same login exports at once.
		r = h.do(http.MethodPatch, "/v1/users/"+sup, asAdmin, map[string]any{"export": true})
		var u directory.User
		if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &u) || !u.Export {
			t.Fatalf("%s: %s; want the user with export", r, truncate(r.body))
		}
		if !sessionExport(t, h.harness, sup) {
			t.Error("GET /v1/sessions/current does not say export after the grant")
		}
		r = h.do(http.MethodGet, export(h.in), sup, nil)
		if r.wantStatus(t, http.StatusOK) && !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("%s: Content-Disposition %q; want an attachment", r, r.header.Get("Content-Disposition"))
		}
		if got := lastExport(t, h.harness); got.Username != sup || got.Outcome != transcripts.OutcomeOK || got.Reason != reason {
			t.Errorf("audit of the export %+v; want %s's, ok, with its reason", got, sup)
		}

		before = h.snapshot()
		h.do(http.MethodPatch, "/v1/users/"+sup, asSup, map[string]any{"export": false}).wantError(t, http.StatusForbidden, codeForbidden, "export")
		h.unchanged(t, before, "a supervisor's withdrawal of export")

		// Withdrawn, it is gone from the same login at once.
		h.do(http.MethodPatch, "/v1/users/"+sup, asAdmin, map[string]any{"export": false}).wantStatus(t, http.StatusOK)
		wantNoExport(t, h.do(http.MethodGet, export(h.in), sup, nil))
	})
}

// A recording's download needs the export permission; its playback does
// not. The refused download is audited as a refused export.
func TestRecordingDownloadNeedsThePermission(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newRecordingHarness(t, b)
		c := h.call(t, "01055501234", "녹음 내려받기")
		h.answer(t, asAgent, c.ContactID)
		name := legName(c.CaseID, c.ContactID, clockStart)
		body := wavOf(1)
		h.upload(c.ContactID, name, asGateway, body).wantStatus(t, http.StatusCreated)
		path := "/v1/cases/" + c.CaseID + "/recordings/" + name
		download := path + "?download=1&reason=" + url.QueryEscape("민원 확인")

		// A supervisor who may listen (pii) but not export.
		listener := h.fresh("sup-listener")
		h.do(http.MethodPost, "/v1/users", asAdmin, userBody(listener, map[string]any{"role": directory.RoleSupervisor, "pii": true})).
			wantStatus(t, http.StatusCreated)
		h.tokens[listener] = h.loginToken(listener, testPassword)

		h.do(http.MethodGet, path, listener, nil).wantStatus(t, http.StatusOK)
		wantNoExport(t, h.do(http.MethodGet, download, listener, nil))
		got := lastExport(t, h.harness)
		if got.Username != listener || got.CaseID != c.CaseID || got.Format != "wav" || got.Reason != "민원 확인" ||
			got.Query != "view=recording_download&file="+name || got.Outcome != transcripts.OutcomeDenied {
			t.Errorf("audit of the refused download %+v; want %s's denied wav export of %s", got, listener, name)
		}
		// Refused before the case is looked at: a case out of reach, or
		// one that does not exist, gets the same answer.
		wantNoExport(t, h.do(http.MethodGet, "/v1/cases/cs-nope/recordings/"+name+"?download=1&reason=x", listener, nil))

		h.do(http.MethodPatch, "/v1/users/"+listener, asAdmin, map[string]any{"export": true}).wantStatus(t, http.StatusOK)
		r := h.do(http.MethodGet, download, listener, nil)
		if r.wantStatus(t, http.StatusOK) && (string(r.body) != string(body) || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment")) {
			t.Errorf("%s: %d bytes, Content-Disposition %q; want the file as an attachment", r, len(r.body), r.header.Get("Content-Disposition"))
		}
		if got := lastExport(t, h.harness); got.Username != listener || got.Outcome != transcripts.OutcomeOK {
			t.Errorf("audit of the download %+v; want %s's, ok", got, listener)
		}
	})
}

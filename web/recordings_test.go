package web

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/recordings"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// recordingHarness is the harness with a real journal, a Review whose
// purges and erasures reach the recordings, and a recording archive.
type recordingHarness struct {
	*harness
	j   *transcripts.Journal
	dir string // the archive's directory
	rv  *transcripts.Review
}

const asOtherGateway = "nts126-gw"

func newRecordingHarness(t *testing.T, b sqltest.Backend) *recordingHarness {
	t.Helper()
	h := newHarness(t, b)
	j := withJournal(t, h)
	dir := t.TempDir()
	store, err := recordings.New(recordings.Config{Dir: dir, Retention: -1, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rv, err := transcripts.NewReview(h.db, transcripts.ReviewOptions{Now: h.clock.Now, Log: slog.New(slog.DiscardHandler),
		Retention: transcripts.Retention{Cases: 24 * time.Hour}, Files: store})
	if err != nil {
		t.Fatal(err)
	}
	h.server.review = rv
	h.server.recordings = &recordingArchive{Archive: store}
	u := directory.UserCreate{Username: asPIISup, Name: "PII supervisor", Password: testPassword,
		Role: directory.RoleSupervisor, Agency: "gov110", PII: true}
	if _, err := h.dir.CreateUser(h.ctx(), u, h.hash); err != nil {
		t.Fatal(err)
	}
	h.mkUser(asOtherGateway, directory.RoleGateway, "nts126")
	for _, name := range []string{asPIISup, asOtherGateway} {
		h.tokens[name] = h.loginToken(name, testPassword)
	}
	return &recordingHarness{harness: h, j: j, dir: dir, rv: rv}
}

// wavOf is a recording of seconds of a ramp, as the edge writes one.
func wavOf(seconds float64) []byte {
	frames := int(seconds * recordings.SampleRate)
	b := bytes.NewBuffer(recordings.Header(int64(frames)))
	for i := range frames {
		b.Write([]byte{byte(i), byte(i >> 8), byte(i >> 1), byte(i >> 9)})
	}
	return b.Bytes()
}

func legName(caseID, contactID string, started time.Time) string {
	return caseID + "_" + contactID + "_" + started.UTC().Format("20060102T150405.000Z") + ".wav"
}

func (h *recordingHarness) upload(contactID, name, as string, body []byte, opts ...reqOpt) *response {
	h.t.Helper()
	opts = append([]reqOpt{withHeader("Content-Type", "audio/wav")}, opts...)
	return h.do(http.MethodPut, "/v1/contacts/"+contactID+"/recordings/"+name, as, rawBody(body), opts...)
}

// recordingEntries are the case's recording entries, read from the log.
func (h *recordingHarness) recordingEntries(t *testing.T, caseID string) []transcripts.EntryView {
	t.Helper()
	tl, err := h.rv.Timeline(h.ctx(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []transcripts.EntryView
	for _, e := range tl.Events {
		if e.Type == "recording" {
			out = append(out, e)
		}
	}
	return out
}

// TestRecordingUpload: a gateway uploads an answered leg's WAV; what is
// not a recording of its own agency's call, in the edge's format, is
// refused with the field named; the same name twice is one recording.
func TestRecordingUpload(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newRecordingHarness(t, b)
		c := h.call(t, "01055501234", "녹음 확인")
		h.answer(t, asAgent, c.ContactID)
		started := clockStart.Add(2 * time.Second)
		name := legName(c.CaseID, c.ContactID, started)
		body := wavOf(2)

		bad := bytes.Clone(body)
		bad[22] = 1 // mono
		h.upload(c.ContactID, name, asSup, body).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.upload(c.ContactID, "leg.wav", asGateway, body).wantError(t, http.StatusBadRequest, codeValidation, "name")
		h.upload("ct-other", name, asGateway, body).wantError(t, http.StatusBadRequest, codeValidation, "name")
		h.upload(c.ContactID, name, asGateway, body, withHeader("Content-Type", "application/octet-stream")).
			wantError(t, http.StatusUnsupportedMediaType, codeValidation, "content_type")
		h.upload(c.ContactID, name, asGateway, bad).wantError(t, http.StatusBadRequest, codeValidation, "body")
		h.upload(c.ContactID, name, asGateway, body[:len(body)-8]).wantError(t, http.StatusBadRequest, codeValidation, "body")
		h.upload(c.ContactID, name, asOtherGateway, body).wantError(t, http.StatusNotFound, codeNotFound, "")
		h.upload("ct-nobody", legName(c.CaseID, "ct-nobody", started), asGateway, body).wantError(t, http.StatusNotFound, codeNotFound, "")
		if got := h.recordingEntries(t, c.CaseID); len(got) != 0 {
			t.Fatalf("refused uploads made entries: %+v", got)
		}
		if files, _ := filepath.Glob(filepath.Join(h.dir, "*", "*")); len(files) != 0 {
			t.Fatalf("refused uploads left files: %v", files)
		}

		r := h.upload(c.ContactID, name, asGateway, body)
		r.wantStatus(t, http.StatusCreated)
		var got struct {
			File    string `json:"file"`
			Seconds int    `json:"seconds"`
		}
		if r.decode(t, &got) && (got.File != name || got.Seconds != 2) {
			t.Errorf("upload answered %+v; want the file and 2 s", got)
		}
		// A retry (the edge did not hear the answer) is the same recording.
		h.upload(c.ContactID, name, asGateway, body).wantStatus(t, http.StatusOK)
		entries := h.recordingEntries(t, c.CaseID)
		if len(entries) != 1 || entries[0].Data["file"] != name || entries[0].Data["seconds"] != "2" ||
			entries[0].Actor != "gateway:"+asGateway || entries[0].ContactID != c.ContactID {
			t.Errorf("recording entries %+v; want one for the leg, 2 s, by the gateway", entries)
		}
		stored, err := os.ReadFile(filepath.Join(h.dir, started.Format("2006-01-02"), name))
		if err != nil || !bytes.Equal(stored, body) {
			t.Errorf("the stored file (%v) is not what was uploaded", err)
		}
		// Another length under the same name is not a retry.
		h.upload(c.ContactID, name, asGateway, wavOf(3)).wantError(t, http.StatusConflict, codeConflict, "name")
		if parts, _ := filepath.Glob(filepath.Join(h.dir, "*", "*.part")); len(parts) != 0 {
			t.Errorf("uploads left partial files: %v", parts)
		}
		// A refusal for a contact out of reach is in the audit.
		if rows := h.auditOf(t, transcripts.ActionContact); len(rows) < 2 {
			t.Errorf("audit of refused uploads: %+v; want the other gateway's and the unknown contact's", rows)
		}
	})
}

// TestRecordingPlayback: a leg's recording is served, with ranges, to
// who may read the case and has pii; a playback — however many range
// requests the audio element makes — is one audit row, and a request
// after the playback window is another playback; every refusal is
// audited; a download needs a reason and is audited as one, each time.
func TestRecordingPlayback(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newRecordingHarness(t, b)
		c := h.call(t, "01055501234", "녹음 재생")
		h.answer(t, asAgent, c.ContactID)
		name := legName(c.CaseID, c.ContactID, clockStart)
		body := wavOf(1.5)
		h.upload(c.ContactID, name, asGateway, body).wantStatus(t, http.StatusCreated)
		path := "/v1/cases/" + c.CaseID + "/recordings/" + name

		r := h.do(http.MethodGet, path, asPIISup, nil)
		if r.wantStatus(t, http.StatusOK) {
			if !bytes.Equal(r.body, body) || r.header.Get("Content-Type") != "audio/wav" || r.header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("playback: %d bytes, %q, ranges %q; want the file as audio/wav with ranges",
					len(r.body), r.header.Get("Content-Type"), r.header.Get("Accept-Ranges"))
			}
			if cd := r.header.Get("Content-Disposition"); cd != "" {
				t.Errorf("playback has Content-Disposition %q; want none", cd)
			}
		}
		r = h.do(http.MethodGet, path, asPIISup, nil, withHeader("Range", "bytes=44-143"))
		if r.wantStatus(t, http.StatusPartialContent) {
			if !bytes.Equal(r.body, body[44:144]) || r.header.Get("Content-Range") != "bytes 44-143/"+strconv.Itoa(len(body)) {
				t.Errorf("range: %d bytes, %q; want bytes 44-143", len(r.body), r.header.Get("Content-Range"))
			}
		}
		// More ranges of the same playback, as the audio element fetches
		// them while playing and seeking, a minute apart.
		for _, rg := range []string{"bytes=0-", "bytes=1000-", "bytes=2000-2999", "bytes=44-"} {
			h.clock.Advance(time.Minute)
			h.do(http.MethodGet, path, asPIISup, nil, withHeader("Range", rg)).wantStatus(t, http.StatusPartialContent)
		}
		if n := playbackReads(t, h, c.CaseID, name); n != 1 {
			t.Errorf("six requests of one playback wrote %d audit rows; want 1", n)
		}
		// Listening again after a pause longer than the window is another
		// playback.
		h.clock.Advance(playbackWindow)
		h.do(http.MethodGet, path, asPIISup, nil, withHeader("Range", "bytes=0-")).wantStatus(t, http.StatusPartialContent)
		h.do(http.MethodGet, path, asPIISup, nil, withHeader("Range", "bytes=500-")).wantStatus(t, http.StatusPartialContent)
		if n := playbackReads(t, h, c.CaseID, name); n != 2 {
			t.Errorf("a second playback after the window: %d audit rows in all; want 2", n)
		}
		// Who may not: no pii (audio cannot be masked), another agency, a
		// gateway, a name the case does not list.
		h.do(http.MethodGet, path, asSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, path, asAgent, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, path, asOtherSup, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		h.do(http.MethodGet, path, asGateway, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, "/v1/cases/"+c.CaseID+"/recordings/"+legName(c.CaseID, c.ContactID, clockStart.Add(time.Hour)), asPIISup, nil).
			wantError(t, http.StatusNotFound, codeNotFound, "")

		h.do(http.MethodGet, path+"?download=1", asPIISup, nil).wantError(t, http.StatusBadRequest, codeValidation, "reason")
		r = h.do(http.MethodGet, path+"?download=1&reason=%EB%AF%BC%EC%9B%90+%ED%99%95%EC%9D%B8", asPIISup, nil)
		if r.wantStatus(t, http.StatusOK) && !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("download's Content-Disposition %q; want an attachment", r.header.Get("Content-Disposition"))
		}
		// A download in the middle of a playback is audited all the same.
		h.do(http.MethodGet, path+"?download=1&reason=%EB%AF%BC%EC%9B%90+%ED%99%95%EC%9D%B8", asPIISup, nil,
			withHeader("Range", "bytes=100-")).wantStatus(t, http.StatusPartialContent)

		reads := h.auditOf(t, transcripts.ActionRead)
		var ok, denied int
		for _, row := range reads {
			if row.CaseID != c.CaseID || row.Query != "view=recording&file="+name {
				continue
			}
			switch {
			case row.Outcome == transcripts.OutcomeOK && row.Username == asPIISup:
				ok++
			case row.Outcome != transcripts.OutcomeOK:
				denied++
			}
		}
		if ok != 2 || denied != 4 {
			t.Errorf("recording reads in the audit: %d ok, %d refused; want 2 (two playbacks) and 4 (no pii twice, another agency, a gateway):\n%+v", ok, denied, reads)
		}
		exports := h.auditOf(t, transcripts.ActionExport)
		if len(exports) != 2 {
			t.Fatalf("download audit %+v; want one export row per download", exports)
		}
		for _, e := range exports {
			if e.Query != "view=recording_download&file="+name || e.Reason != "민원 확인" || e.Format != "wav" || e.Outcome != transcripts.OutcomeOK {
				t.Errorf("download audit %+v; want an export row with its reason", e)
			}
		}
	})
}

// TestErasureAndPurgeDeleteRecordings: erasing a closed case deletes its
// recordings with it (an upload after the case closed included); the
// retention purge deletes a purged case's recordings.
func TestErasureAndPurgeDeleteRecordings(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newRecordingHarness(t, b)
		erased := h.call(t, "01055501234", "지울 통화")
		h.serve(t, h.j, asAgent, erased, "", "resolved", "끝")
		kept := h.call(t, "01055505678", "남길 통화")
		h.serve(t, h.j, asAgent, kept, "", "resolved", "끝")
		// Both cases closed before their legs' files came.
		en, kn := legName(erased.CaseID, erased.ContactID, clockStart), legName(kept.CaseID, kept.ContactID, clockStart)
		h.upload(erased.ContactID, en, asGateway, wavOf(1)).wantStatus(t, http.StatusCreated)
		h.upload(kept.ContactID, kn, asGateway, wavOf(1)).wantStatus(t, http.StatusCreated)
		if n := len(h.recordingEntries(t, erased.CaseID)); n != 1 {
			t.Fatalf("the closed case has %d recording entries; want 1", n)
		}
		file := func(name string) string { return filepath.Join(h.dir, clockStart.Format("2006-01-02"), name) }

		del := "/v1/transcripts/" + erased.CaseID + "?reason=" + "erasure+request+2026-17"
		h.do(http.MethodDelete, del, asPIISup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodDelete, "/v1/transcripts/"+erased.CaseID, asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, "reason")
		h.do(http.MethodDelete, del, asAdmin, nil).wantStatus(t, http.StatusNoContent)
		if _, err := os.Stat(file(en)); !os.IsNotExist(err) {
			t.Errorf("the erased case's recording is still there (%v)", err)
		}
		h.do(http.MethodGet, "/v1/transcripts/"+erased.CaseID, asAdmin, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		h.do(http.MethodDelete, del, asAdmin, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		if rows := h.auditOf(t, transcripts.ActionErase); len(rows) == 0 || rows[len(rows)-2].Outcome != transcripts.OutcomeOK ||
			rows[len(rows)-2].Reason != "erasure request 2026-17" {
			t.Errorf("erasure audit %+v; want the admin's erasure with its reason", rows)
		}
		if _, err := os.Stat(file(kn)); err != nil {
			t.Fatalf("the other case's recording: %v", err)
		}
		// An open case is the router's.
		open := h.call(t, "01055509999", "진행 중")
		h.do(http.MethodDelete, "/v1/transcripts/"+open.CaseID+"?reason=x", asAdmin, nil).wantError(t, http.StatusConflict, codeConflict, "")

		h.clock.Advance(48 * time.Hour)
		if n, err := h.rv.Purge(h.ctx(), h.clock.Now()); err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want the kept case", n, err)
		}
		if _, err := os.Stat(file(kn)); !os.IsNotExist(err) {
			t.Errorf("the purged case's recording is still there (%v)", err)
		}
	})
}

// playbackReads counts the audited successful playbacks of a recording.
func playbackReads(t *testing.T, h *recordingHarness, caseID, name string) int {
	t.Helper()
	n := 0
	for _, row := range h.auditOf(t, transcripts.ActionRead) {
		if row.CaseID == caseID && row.Query == "view=recording&file="+name && row.Outcome == transcripts.OutcomeOK {
			n++
		}
	}
	return n
}

// One playback is one row: requests less than playbackWindow apart are
// one playback however long it lasts; a failed row starts none; a range
// request racing the first of its playback waits for that row.
func TestPlaybackLogWritesOneRowPerPlayback(t *testing.T) {
	var l playbackLog
	k := playbackKey{user: asPIISup, caseID: "cs-1", name: "a.wav"}
	rows := 0
	write := func() error { rows++; return nil }
	if err := l.once(k, clockStart, func() error { return errors.New("the audit is down") }); err == nil {
		t.Fatal("a failed audit row was not reported")
	}
	for _, at := range []time.Duration{0, 9 * time.Minute, 18 * time.Minute, 27 * time.Minute} {
		if err := l.once(k, clockStart.Add(at), write); err != nil {
			t.Fatal(err)
		}
	}
	if rows != 1 {
		t.Errorf("a playback with requests 9 minutes apart wrote %d rows; want 1 (the first failed)", rows)
	}
	_ = l.once(k, clockStart.Add(27*time.Minute+playbackWindow), write)
	_ = l.once(playbackKey{user: asAdmin, caseID: "cs-1", name: "a.wav"}, clockStart.Add(28*time.Minute), write)
	if rows != 3 {
		t.Errorf("after a pause of the window and another reader: %d rows; want 3", rows)
	}

	race := playbackKey{user: asPIISup, caseID: "cs-2", name: "b.wav"}
	writing, release, served := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		_ = l.once(race, clockStart, func() error { close(writing); <-release; return nil })
	}()
	<-writing
	go func() {
		_ = l.once(race, clockStart, func() error { t.Error("the racing request wrote a second row"); return nil })
		close(served)
	}()
	select {
	case <-served:
		t.Error("a racing range request was served before its playback's row was written")
	default:
	}
	close(release)
	<-served
}

package web

import (
	"context"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
	"tellonce/recordings"
	"tellonce/transcripts"
)

// Recordings: an edge uploads each answered leg's WAV; review plays it.
// The upload stages the file under a temporary name, commits the case's
// recording entry (the journal, or the durable log of a closed case),
// and only then renames the file into place: nothing reads a file whose
// entry is not durable, and a retry of the same name finds its entry and
// only places the file (docs/api.md, Recordings).

// recordingArchive is the server's archive of uploaded recordings, with
// the lock that makes looking for an entry and adding it one step.
type recordingArchive struct {
	recordings.Archive
	commit sync.Mutex
	// playbacks makes one playback one audit row.
	playbacks playbackLog
}

// playbackWindow is how long after a reader's last request for a
// recording a new request is still the same playback: the audio element
// fetches a recording in several ranges (and again on each seek), and
// the audit wants one row per listening, not per range.
const playbackWindow = 10 * time.Minute

// playbackKey is one reader listening to one recording of a case.
type playbackKey struct{ user, caseID, name string }

// playbackLog remembers when each reader last fetched each recording,
// on this server. Its zero value is ready.
type playbackLog struct {
	mu   sync.Mutex
	last map[playbackKey]time.Time
}

// once audits a request at now with write when it starts a playback
// (nothing of the reader's for this recording within the window before),
// and only records it otherwise. write runs under the log's lock, so a
// range request racing the first one of its playback is not served
// before that playback's row is written; an error leaves the playback
// unstarted, for the next request to write.
func (l *playbackLog) once(k playbackKey, now time.Time, write func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[playbackKey]time.Time{}
	}
	for o, at := range l.last { // few readers listen at once: a scan is cheap
		if now.Sub(at) >= playbackWindow {
			delete(l.last, o)
		}
	}
	if _, ongoing := l.last[k]; !ongoing {
		if err := write(); err != nil {
			return err
		}
	}
	l.last[k] = now
	return nil
}

// recordingTransfer bounds how long one upload or one download may take,
// past the server's read and write timeouts, which are for API calls.
const recordingTransfer = 30 * time.Minute

var errNoRecordings = errorf(http.StatusServiceUnavailable, codeUnavailable, "", "recordings are not stored on this server (serve --recording-dir)")

func (s *Server) recordingRoutes(h func(string, http.HandlerFunc)) {
	h("PUT /v1/contacts/{id}/recordings/{name}", s.authed(s.uploadRecording))
	h("GET /v1/cases/{id}/recordings/{name}", s.authed(s.playRecording))
	h("DELETE /v1/transcripts/{case_id}", s.authed(s.eraseCase))
}

func (s *Server) uploadRecording(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.recordings == nil || s.review == nil {
		s.writeError(w, r, errNoRecordings)
		return
	}
	if p.Role != directory.RoleGateway {
		s.writeError(w, r, forbiddenField("", "recordings are uploaded by telephony gateways"))
		return
	}
	contactID, name := r.PathValue("id"), r.PathValue("name")
	meta, _, err := recordings.ParseBase(name)
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "name", "want <case>_<contact>_<YYYYMMDDTHHMMSS.mmmZ>.wav, as the edge names a leg's recording"))
		return
	}
	if meta.ContactID != contactID {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "name", "names contact "+meta.ContactID+", not "+contactID))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "audio/wav" && mt != "audio/x-wav" {
		s.writeError(w, r, errorf(http.StatusUnsupportedMediaType, codeValidation, "content_type", "must be audio/wav"))
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(recordingTransfer))
	body := http.MaxBytesReader(w, r.Body, recordings.MaxUploadBytes)
	staged, err := s.recordings.Stage(r.Context(), name, body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.writeError(w, r, errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "", "a recording is at most "+strconv.Itoa(recordings.MaxSeconds/3600)+" hours"))
		return
	case errors.Is(err, recordings.ErrBadAudio):
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "body", err.Error()+": want WAV, 16-bit PCM, 8000 Hz, 2 channels"))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	defer staged.Discard()
	rec := cases.Recording{File: name, Seconds: int(staged.Seconds() + 0.5), StartedAt: meta.Started}
	created, err := s.commitRecording(r.Context(), p, meta.CaseID, contactID, rec, staged)
	if errors.Is(err, cases.ErrNotFound) || errors.Is(err, transcripts.ErrNotFound) {
		s.auditRefusal(r, p, transcripts.AuditEntry{Action: transcripts.ActionContact, CaseID: meta.CaseID,
			Query: "op=recording&contact_id=" + contactID})
		s.writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "", "contact "+contactID+": not found"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"case_id": meta.CaseID, "contact_id": contactID, "file": name,
		"seconds": rec.Seconds, "started_at": rec.StartedAt.UTC()})
}

// commitRecording adds the recording's entry unless the case has it
// already (a retry), then puts the staged file in place; created says
// whether the entry is new. A retry must come from the gateway account
// that made the entry, and carry audio of the same length.
func (s *Server) commitRecording(ctx context.Context, p auth.Principal, caseID, contactID string, rec cases.Recording, staged recordings.Staged) (bool, error) {
	s.recordings.commit.Lock()
	defer s.recordings.commit.Unlock()
	// What the router did so far is durable first, so the durable log
	// shows every entry the case has.
	if err := s.board.Settle(ctx); err != nil {
		return false, err
	}
	t, err := s.review.Timeline(ctx, caseID)
	if err != nil {
		return false, err
	}
	var entry *transcripts.EntryView
	hasLeg := false
	for _, l := range t.Legs {
		hasLeg = hasLeg || l.ContactID == contactID
	}
	for i, e := range t.Events {
		if e.Type == cases.CaseRecording && e.ContactID == contactID && e.Data["file"] == rec.File {
			entry = &t.Events[i]
		}
	}
	switch {
	case !hasLeg:
		return false, cases.ErrNotFound
	case entry == nil:
		if err := s.hub.RecordUpload(ctx, s.review, p.Agency, p.Username, contactID, rec); err != nil {
			return false, err
		}
		// Durable before the file is visible (RecordUpload waited on the
		// hub's journal; this is the same wait, on the server's).
		if err := s.board.Settle(ctx); err != nil {
			return false, err
		}
	case entry.Actor != "gateway:"+p.Username:
		return false, cases.ErrNotFound
	case entry.Data["seconds"] != strconv.Itoa(rec.Seconds):
		return false, errorf(http.StatusConflict, codeConflict, "name", "a recording of another length was stored under this name")
	}
	if err := staged.Commit(); err != nil {
		return false, err
	}
	return entry == nil, nil
}

// playRecording serves a leg's recording to whoever may read its case's
// transcript and has the pii permission: audio cannot be masked. Every
// request is audited as a read (query view=recording); ?download=1 is an
// export that needs a reason (view=recording_download).
func (s *Server) playRecording(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.recordings == nil || s.review == nil {
		s.writeError(w, r, errNoRecordings)
		return
	}
	caseID, name := r.PathValue("id"), r.PathValue("name")
	download := r.URL.Query().Get("download") == "1"
	entry := transcripts.AuditEntry{Action: transcripts.ActionRead, CaseID: caseID,
		Query: "view=recording&file=" + url.QueryEscape(name)}
	if download {
		reason, err := auditReason(r.URL.Query(), "download this recording")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		entry = transcripts.AuditEntry{Action: transcripts.ActionExport, CaseID: caseID, Format: "wav", Reason: reason,
			Query: "view=recording_download&file=" + url.QueryEscape(name)}
	}
	notFound := errorf(http.StatusNotFound, codeNotFound, "", "no such recording in the case log")
	t, ok := s.reachable(w, r, p, entry, "recordings", notFound)
	if !ok {
		return
	}
	listed := false
	for _, e := range t.Events {
		listed = listed || e.Type == cases.CaseRecording && e.Data["file"] == name
	}
	if !listed {
		s.refuse(w, r, p, entry, notFound)
		return
	}
	if !p.PII {
		s.refuse(w, r, p, entry, forbiddenField("", "a recording is personal data and audio cannot be masked: listening needs the pii permission"))
		return
	}
	f, err := s.recordings.Open(r.Context(), name)
	if errors.Is(err, fs.ErrNotExist) {
		s.refuse(w, r, p, entry, notFound)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	entry.Outcome = transcripts.OutcomeOK
	// A download is audited each time; a playback once, at its first
	// request (playbackWindow).
	write := func() error { return s.audit(r, p, entry) }
	if download {
		err = write()
	} else {
		err = s.recordings.playbacks.once(playbackKey{user: p.Username, caseID: caseID, name: name}, s.now(), write)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(recordingTransfer))
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "private, no-store")
	if download {
		w.Header().Set("Content-Disposition", `attachment; filename="`+unsafeFileChars.ReplaceAllString(name, "_")+`"`)
	}
	http.ServeContent(w, r, name, f.ModTime(), f)
}

// eraseCase deletes a closed case and its recordings ahead of the
// retention: admins only, with a reason, which the audit keeps.
func (s *Server) eraseCase(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.review == nil {
		s.writeError(w, r, errNoReview)
		return
	}
	reason := strings.TrimSpace(r.URL.Query().Get("reason"))
	entry := transcripts.AuditEntry{Action: transcripts.ActionErase, CaseID: r.PathValue("case_id"), Reason: reason}
	if !isAdmin(p) {
		s.refuse(w, r, p, entry, forbiddenField("", "erasing a case is for admins"))
		return
	}
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "reason", "say why the case is erased: it is written to the access audit"))
		return
	case n > maxExportReason:
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "reason", "is longer than 500 characters"))
		return
	}
	err := s.review.Erase(r.Context(), entry.CaseID)
	switch {
	case errors.Is(err, transcripts.ErrNotFound):
		s.refuse(w, r, p, entry, errorf(http.StatusNotFound, codeNotFound, "", "no such case in the case log"))
		return
	case errors.Is(err, transcripts.ErrCaseOpen):
		s.writeError(w, r, errorf(http.StatusConflict, codeConflict, "", "the case is open: end its contacts first"))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	entry.Outcome = transcripts.OutcomeOK
	if err := s.audit(r, p, entry); err != nil {
		// The case is gone; the answer says the audit row is missing.
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

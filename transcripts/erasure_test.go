package transcripts

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// secrets is what one citizen left in a case: every free-text field that
// reaches the case's rows, each a marker found nowhere else.
type secrets struct {
	callerID, name, callback, summary, ivr, attribute, message, reply, note, transfer, disposition, ending string
	// indexed goes into a message, for the search index.
	indexed string
}

func (s secrets) all() map[string]string {
	return map[string]string{"caller id": s.callerID, "caller name": s.name, "callback number": s.callback,
		"context summary": s.summary, "IVR path": s.ivr, "context attribute": s.attribute, "message": s.message,
		"agent's reply": s.reply, "note": s.note, "transfer note": s.transfer, "disposition": s.disposition,
		"end summary": s.ending}
}

// Markers of the cases to be purged, and of the case that stays. Letters
// only where the masking rules might rewrite digits; the numbers are ones
// no masking touches in storage.
var (
	purgedSecrets = secrets{callerID: "+821055501234", name: "Quokka Purgeable", callback: "0315550987",
		summary: "Numbat context summary", ivr: "Bilby IVR choice", attribute: "Dingo attribute value",
		message: "Wallaby message text", reply: "Echidna agent reply", note: "Platypus internal note",
		transfer: "Cassowary transfer note", disposition: "Kookaburra disposition", ending: "Dunnart end summary",
		indexed: "peacock " + strings.Repeat(indexMarker, 4) + " feathers"}
	keptSecrets = secrets{callerID: "+821055507777", name: "Gecko Keepable", callback: "0315557777",
		summary: "Marmot context summary", ivr: "Lemur IVR choice", attribute: "Tapir attribute value",
		message: "Ocelot message text", reply: "Okapi agent reply", note: "Pangolin internal note",
		transfer: "Narwhal transfer note", disposition: "Axolotl disposition", ending: "Capybara end summary",
		indexed: "nothing rare"}
)

// indexMarker is a letter (four bytes of UTF-8, U+1F99A) found in no text
// but the purged cases' messages.
const indexMarker = "\U0001F99A"

// secretCase is a chat that leaves every field of s in its case's rows: a
// long message (overflow pages), a note, a transfer to another agency and
// an end summary. It returns the case id.
func (w *world) secretCase(s secrets, filler int) string {
	w.t.Helper()
	c := w.enqueue(caller(s.callerID, func(r *router.EnqueueRequest) {
		r.Channel, r.Queue = router.ChannelChat, "gov110.general"
		r.Caller.Name = s.name
		r.CallbackNumber = s.callback
		r.Context = router.ContactContext{Summary: s.summary, IVR: []string{s.ivr},
			Attributes: map[string]string{"topic": s.attribute}}
	}))
	w.accept(c.ID)
	c = w.contact(c.ID)
	w.say(c, s.message+" "+s.indexed+" "+strings.Repeat("and more words ", filler), s.reply)
	w.ack(w.r.Note(c.Agent, c.CaseID, s.note))
	next, evs, err := w.r.Transfer(c.Agent, c.ID, router.Target{Queue: "nts126.tax"}, router.TransferCold, s.transfer)
	w.ack(evs, err)
	w.accept(next.ID)
	next = w.contact(next.ID)
	w.say(next, s.message+" again")
	w.end(next, s.disposition, s.ending)
	return c.CaseID
}

// fileBytes reads the database file and its WAL as they are on disk.
func fileBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range []string{path, path + "-wal", path + "-journal"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[p] = b
	}
	return out
}

// Deletion that cannot be undone (PIPA enforcement decree art. 16): once
// a case is purged, nothing it held can be read back from the database
// file or its WAL with a hex editor or a recovery tool — not in the
// tables' pages, their indexes, the search index, the pages the purge
// freed, nor the WAL frames written before the purge.
func TestPurgeLeavesNoTraceInTheSQLiteFiles(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	day := 24 * time.Hour
	w := newWorld(t, b, Retention{Cases: 30 * day, Audit: 90 * day})
	ctx := context.Background()
	// Enough purged cases, some with long messages, that the purge frees
	// whole pages and overflow chains, not only cells within a page.
	var purged []string
	for i := range 40 {
		purged = append(purged, w.secretCase(purgedSecrets, (i%4)*80))
	}
	w.clock.Advance(20 * day)
	kept := w.secretCase(keptSecrets, 200)
	w.clock.Advance(15 * day) // the purged closed 35 days ago, the kept 15

	// The scan must see what is there, or its silence proves nothing.
	if _, _, err := b.DB.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	before := fileBytes(t, b.DSN)
	for what, marker := range purgedSecrets.all() {
		if !anyFileHolds(before, marker) {
			t.Fatalf("before the purge, no database file holds the %s %q: the scan below would prove nothing", what, marker)
		}
	}

	n, err := w.rv.Purge(ctx, w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != len(purged) {
		t.Fatalf("Purge = %d cases; want %d", n, len(purged))
	}
	// The purge freed whole pages (the freelist's, whose old content
	// secure_delete must zero too), not only cells in pages still in use.
	var free int
	if err := b.DB.GetContext(ctx, &free, `PRAGMA freelist_count`); err != nil {
		t.Fatal(err)
	}
	if free < 10 {
		t.Errorf("the purge freed %d pages; want enough to check that freed pages are wiped", free)
	}
	after := fileBytes(t, b.DSN)
	if len(after[b.DSN+"-wal"]) != 0 {
		t.Errorf("the WAL holds %d bytes after the purge; want it truncated", len(after[b.DSN+"-wal"]))
	}
	for what, marker := range purgedSecrets.all() {
		for file, data := range after {
			if i := bytes.Index(data, []byte(marker)); i >= 0 {
				t.Errorf("%s still holds the purged %s %q at byte %d", file, what, marker, i)
			}
		}
	}
	for what, marker := range keptSecrets.all() {
		if !anyFileHolds(after, marker) {
			t.Errorf("the kept case's %s %q is gone from the files", what, marker)
		}
	}
	// The search index keeps its terms (trigrams) apart from the text,
	// where the scan above cannot see them whole; a letter that only the
	// purged messages used is in every trigram the index kept of it.
	for file, data := range after {
		if i := bytes.Index(data, []byte(indexMarker)); i >= 0 {
			t.Errorf("%s still holds a search-index term of the purged messages at byte %d", file, i)
		}
	}
	if _, err := w.rv.Timeline(ctx, kept); err != nil {
		t.Errorf("the kept case cannot be read after the purge: %v", err)
	}
}

func anyFileHolds(files map[string][]byte, marker string) bool {
	for _, data := range files {
		if bytes.Contains(data, []byte(marker)) {
			return true
		}
	}
	return false
}

// A database that an earlier version purged keeps the deleted texts'
// terms in its search index (FTS5 deleted by adding tombstones); the
// first purge since merges the index, and they go.
func TestPurgeClearsTheSearchIndexOfEarlierDeletes(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	day := 24 * time.Hour
	w := newWorld(t, b, Retention{Cases: 30 * day, Audit: 90 * day})
	ctx := context.Background()
	old := w.secretCase(purgedSecrets, 0)
	w.secretCase(keptSecrets, 0)
	// An earlier version's purge of the old case: plain deletes.
	for _, table := range []string{"case_events_fts", "case_events", "contacts", "requeued_legs"} {
		mustExec(t, b.DB, `DELETE FROM `+table+` WHERE case_id = ?`, old)
	}
	mustExec(t, b.DB, `DELETE FROM cases WHERE id = ?`, old)
	if _, _, err := b.DB.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if !anyFileHolds(fileBytes(t, b.DSN), indexMarker) {
		t.Fatal("the search index kept nothing of a plain delete: the check below would prove nothing")
	}

	if n, err := w.rv.Purge(ctx, w.clock.Now()); err != nil || n != 0 {
		t.Fatalf("Purge = %d, %v; want 0 (nothing is old enough), nil", n, err)
	}
	for file, data := range fileBytes(t, b.DSN) {
		if i := bytes.Index(data, []byte(indexMarker)); i >= 0 {
			t.Errorf("%s still holds a search-index term of the earlier delete at byte %d", file, i)
		}
	}
	if got := w.search(all, Filter{Text: "Ocelot"}); len(got) != 1 {
		t.Errorf("Search(Ocelot) = %v; want the kept case: the merged index lost it", got)
	}
}

// A scrub that could not finish (a long read kept the WAL in use) is owed:
// the next purge does it, even one that has nothing to delete.
func TestPurgeRetriesAScrubThatCouldNotFinish(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	day := 24 * time.Hour
	w := newWorld(t, b, Retention{Cases: 30 * day, Audit: 90 * day})
	ctx := context.Background()
	caseID := w.secretCase(purgedSecrets, 0)
	w.clock.Advance(35 * day)

	reader, err := b.DB.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.GetContext(ctx, &n, `SELECT COUNT(*) FROM case_events`); err != nil {
		t.Fatal(err)
	}
	// The purge is stopped once its delete has committed, while its scrub
	// waits for the reader: not after a fixed time, which a loaded machine
	// can spend before the delete is done.
	if n, err := w.rv.Purge(cancelOnceGone(t, b.DB, caseID), w.clock.Now()); n != 1 || err == nil {
		t.Fatalf("Purge with a reader open = %d, %v; want 1 and the scrub's error", n, err)
	}
	if !anyFileHolds(fileBytes(t, b.DSN), purgedSecrets.message) {
		t.Fatal("the unfinished scrub left nothing to find: the check below would prove nothing")
	}
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}

	if n, err := w.rv.Purge(ctx, w.clock.Now()); n != 0 || err != nil {
		t.Fatalf("the next Purge = %d, %v; want 0, nil", n, err)
	}
	files := fileBytes(t, b.DSN)
	for what, marker := range purgedSecrets.all() {
		for file, data := range files {
			if i := bytes.Index(data, []byte(marker)); i >= 0 {
				t.Errorf("%s still holds the purged %s %q at byte %d", file, what, marker, i)
			}
		}
	}
}

// cancelOnceGone is a context that ends once case caseID is no longer in
// the database, as read by a connection of its own (a purge's delete has
// committed), or when the test ends.
func cancelOnceGone(t *testing.T, db *tsql.DB, caseID string) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		defer cancel()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var n int
			err := db.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM cases WHERE id = ?`), caseID)
			if err != nil && ctx.Err() != nil || err == nil && n == 0 {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return ctx
}

// On PostgreSQL a purge VACUUMs the tables it deleted from (outside a
// transaction: VACUUM refuses to run in one), so the dead rows and their
// index entries are gone and their space is reused; the files cannot be
// read portably, so the test checks that the VACUUM ran.
func TestPurgeVacuumsOnPostgres(t *testing.T) {
	b := sqltest.Open(t, "postgres")
	day := 24 * time.Hour
	w := newWorld(t, b, Retention{Cases: 30 * day, Audit: 90 * day})
	ctx := context.Background()
	old := w.secretCase(purgedSecrets, 0)
	if err := w.rv.Record(ctx, AuditEntry{Username: "admin", Role: "admin", Action: ActionRead, CaseID: old,
		Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(35 * day)

	since := dbNow(t, w)
	if n, err := w.rv.Purge(ctx, w.clock.Now()); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1, nil", n, err)
	}
	for _, table := range caseTables {
		if at := lastVacuum(t, w, table); at.IsZero() || at.Before(since) {
			t.Errorf("%s was last vacuumed at %v; want after the purge began (%v)", table, at, since)
		}
	}

	w.clock.Advance(60 * day)
	since = dbNow(t, w)
	// The read, and the offer of the case's transferred leg.
	if n, err := w.rv.PurgeAudit(ctx, w.clock.Now()); err != nil || n != 2 {
		t.Fatalf("PurgeAudit = %d, %v; want 2, nil", n, err)
	}
	if at := lastVacuum(t, w, "access_audit"); at.IsZero() || at.Before(since) {
		t.Errorf("access_audit was last vacuumed at %v; want after its purge began (%v)", at, since)
	}
}

func dbNow(t *testing.T, w *world) time.Time {
	t.Helper()
	var now time.Time
	if err := w.db.GetContext(context.Background(), &now, `SELECT now()`); err != nil {
		t.Fatal(err)
	}
	return now
}

// lastVacuum is when table, in the test's schema, was last vacuumed by a
// VACUUM statement (not by autovacuum); zero for never.
func lastVacuum(t *testing.T, w *world, table string) time.Time {
	t.Helper()
	var at *time.Time
	if err := w.db.GetContext(context.Background(), &at, `SELECT last_vacuum FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname = $1`, table); err != nil {
		t.Fatalf("read the statistics of %s: %v", table, err)
	}
	if at == nil {
		return time.Time{}
	}
	return *at
}

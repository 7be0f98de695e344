package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	tsql "tellonce/sql"
	"tellonce/transcripts"
)

// remask runs "tellonce remask": once, after an upgrade whose masking
// rules recognise more (docs/privacy.md), it rewrites the stored rows
// that the current rules mask further. Reads mask such rows already; this
// takes them out of the tables and the database's files. It may run while
// servers serve the same PostgreSQL database; the embedded SQLite file is
// remasked with its server stopped (the file's lock refuses a second
// writer otherwise). It prints its progress, and records the run in the
// access audit (action remask) with the rows it rewrote.
func remask(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("remask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "database: a postgres:// URL or an SQLite file path (TELLONCE_DB, DATABASE_URL)")
	by := fs.String("by", "", "who runs it, for the access audit (default: $USER)")
	reason := fs.String("reason", "", "why, for the access audit (default: the masking rules changed)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tellonce remask [--db …] [--by NAME] [--reason TEXT]

Rewrites every stored case row, timeline entry and access-audit row that
the current masking rules mask further than the rules it was written
under (a resident registration number in a form an older release missed),
then scrubs the old text from the database's files. Run it once after an
upgrade whose release notes say the masking rules grew; running it again
finds nothing to do. Progress goes to stdout; the run is recorded in the
access audit as action "remask".

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("remask: unexpected argument %q", fs.Arg(0))
	}
	who := cmp.Or(strings.TrimSpace(*by), getenv("USER"), "operator")
	why := cmp.Or(strings.TrimSpace(*reason), "the masking rules changed")
	// The embedded file's one-server lock: a server running on it holds
	// live cases that a rewrite under it would not reach (PostgreSQL needs
	// none: each row is rewritten only if unchanged).
	lock, err := tsql.LockServer(cmp.Or(*dsn, getenv("TELLONCE_DB"), getenv("DATABASE_URL"), tsql.DefaultSQLitePath))
	if err != nil {
		return fmt.Errorf("remask: %w", err)
	}
	defer lock.Close()
	db, err := openFlagged(ctx, *dsn, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	rv, err := transcripts.NewReview(db, transcripts.ReviewOptions{Log: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	totals, runErr := rv.Remask(ctx, func(p transcripts.RemaskProgress) {
		state := "…"
		if p.Done {
			state = "done"
		}
		fmt.Fprintf(stdout, "%-14s read %d, rewritten %d %s\n", p.Table, p.Read, p.Rewritten, state)
	})
	counts := url.Values{}
	total := 0
	for _, p := range totals {
		counts.Set(p.Table, strconv.Itoa(p.Rewritten))
		total += p.Rewritten
	}
	entry := transcripts.AuditEntry{Username: who, Role: "operator", Action: transcripts.ActionRemask,
		Query: counts.Encode(), Reason: why, Outcome: transcripts.OutcomeOK}
	if runErr != nil {
		entry.Outcome = transcripts.OutcomeFailed
	}
	// The audit is written with a context of its own: an interrupted run
	// (Ctrl-C) is recorded too, with what it rewrote before it stopped.
	if err := rv.Record(context.WithoutCancel(ctx), entry); err != nil {
		return errors.Join(runErr, fmt.Errorf("remask: record the run in the access audit: %w", err))
	}
	if runErr != nil {
		return runErr
	}
	fmt.Fprintf(stdout, "rewrote %d rows; recorded in the access audit as %q by %s\n", total, transcripts.ActionRemask, who)
	return nil
}

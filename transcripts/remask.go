package transcripts

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	tsql "tellonce/sql"
)

// Remasking: the masking rules grow (a form of a resident registration
// number they missed is a bug, fixed in package privacy), and rows written
// before a fix still hold what the older rules let through. Every read
// masks them again (see storable), so nobody reads them; Remask rewrites
// the rows themselves, so that the files, backups taken later and any
// tool reading the tables hold them masked too (docs/privacy.md).

// RemaskProgress is how far Remask has come through one table.
type RemaskProgress struct {
	Table     string `json:"table"`
	Read      int    `json:"read"`      // rows read so far
	Rewritten int    `json:"rewritten"` // rows rewritten so far
	Done      bool   `json:"done"`      // the table is finished
}

// remaskBatch is how many rows one transaction reads and rewrites: small
// enough that a running server's journal commits are held up briefly.
const remaskBatch = 500

// remaskColumn kinds: free text, a context's JSON, an entry's data JSON,
// and a search's encoded parameters.
const (
	colText = iota
	colContext
	colData
	colQuery
)

type remaskColumn struct {
	name string
	kind int
}

// remaskTable is a table Remask walks in key order.
type remaskTable struct {
	name string
	keys []string
	// newKeys returns pointers to scan the keys into.
	newKeys func() []any
	cols    []remaskColumn
}

func stringKeys(n int) func() []any {
	return func() []any {
		out := make([]any, n)
		for i := range out {
			out[i] = new(string)
		}
		return out
	}
}

// remaskTables are the tables and columns that hold free text: what
// rows.go passes through storable when it writes them, and the caller ids
// and actors, which the router masks as they enter.
var remaskTables = []remaskTable{
	{name: "cases", keys: []string{"id"}, newKeys: stringKeys(1),
		cols: []remaskColumn{{"caller_id", colText}, {"caller_name", colText}, {"context", colContext}}},
	{name: "contacts", keys: []string{"id"}, newKeys: stringKeys(1),
		cols: []remaskColumn{{"caller_id", colText}, {"context", colContext}, {"callback_number", colText}, {"disposition", colText}}},
	{name: "requeued_legs", keys: []string{"contact_id", "enqueued_at"},
		newKeys: func() []any { return []any{new(string), new(time.Time)} },
		cols:    []remaskColumn{{"disposition", colText}}},
	{name: "case_events", keys: []string{"case_id", "seq"},
		newKeys: func() []any { return []any{new(string), new(int64)} },
		cols:    []remaskColumn{{"actor", colText}, {"text", colText}, {"data", colData}}},
	{name: "access_audit", keys: []string{"id"},
		newKeys: func() []any { return []any{new(int64)} },
		cols:    []remaskColumn{{"case_id", colText}, {"query", colQuery}, {"reason", colText}}},
}

// Remask rewrites every stored row whose free text the current rules mask
// further, table by table in key order, a batch per transaction, and then
// scrubs what it rewrote from the database's files as a purge does. It
// may run beside a serving server: each row is rewritten only if it still
// holds what was read (a row changed meanwhile was written masked). It
// reports each batch to progress (when not nil) and returns the totals.
// Running it again finds nothing to rewrite.
func (rv *Review) Remask(ctx context.Context, progress func(RemaskProgress)) ([]RemaskProgress, error) {
	var totals []RemaskProgress
	var rewritten []string
	for _, t := range remaskTables {
		p, err := rv.remaskTable(ctx, t, progress)
		totals = append(totals, p)
		if p.Rewritten > 0 {
			rewritten = append(rewritten, t.name)
		}
		if err != nil {
			// What was rewritten is already out of the rows; scrub it from
			// the files before giving up.
			if serr := rv.scrub(ctx, len(rewritten) > 0, rewritten...); serr != nil {
				rv.log.Warn("scrub after a failed remask", "err", serr)
			}
			return totals, fmt.Errorf("remask %s: %w", t.name, err)
		}
	}
	if err := rv.scrub(ctx, len(rewritten) > 0, rewritten...); err != nil {
		return totals, fmt.Errorf("remask: scrub the rewritten rows: %w", err)
	}
	return totals, nil
}

func (rv *Review) remaskTable(ctx context.Context, t remaskTable, progress func(RemaskProgress)) (RemaskProgress, error) {
	p := RemaskProgress{Table: t.name}
	var after []any
	for {
		n, changed, last, err := rv.remaskBatch(ctx, t, after)
		if err != nil {
			return p, err
		}
		p.Read += n
		p.Rewritten += changed
		after = last
		p.Done = n < remaskBatch
		if progress != nil {
			progress(p)
		}
		if p.Done {
			return p, nil
		}
	}
}

// remaskBatch reads up to remaskBatch rows of t after the key after (nil:
// from the start), rewrites those the rules mask further, and returns how
// many it read and rewrote and the last key read.
func (rv *Review) remaskBatch(ctx context.Context, t remaskTable, after []any) (int, int, []any, error) {
	var cols []string
	for _, c := range t.cols {
		cols = append(cols, c.name)
	}
	q := `SELECT ` + strings.Join(t.keys, ", ") + `, ` + strings.Join(cols, ", ") + ` FROM ` + t.name
	if after != nil {
		q += ` WHERE (` + strings.Join(t.keys, ", ") + `) > (` + placeholders(len(t.keys)) + `)`
	}
	q += ` ORDER BY ` + strings.Join(t.keys, ", ") + ` LIMIT ?`
	args := append(derefAll(after), remaskBatch)
	read, changed := 0, 0
	var last []any
	err := rv.db.InTx(ctx, func(tx *sqlx.Tx) error {
		read, changed, last = 0, 0, nil
		rows, err := tx.QueryContext(ctx, rv.db.Rebind(q), args...)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		type change struct {
			keys     []any
			old, new []string
		}
		var changes []change
		for rows.Next() {
			keys := t.newKeys()
			vals := make([]string, len(t.cols))
			dest := append([]any{}, keys...)
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("read: %w", err)
			}
			read++
			last = keys
			masked := make([]string, len(vals))
			dirty := false
			for i, c := range t.cols {
				if masked[i], err = remaskValue(c.kind, vals[i]); err != nil {
					rows.Close()
					return fmt.Errorf("%s of %v: %w", c.name, derefAll(keys), err)
				}
				dirty = dirty || masked[i] != vals[i]
			}
			if dirty {
				changes = append(changes, change{keys: keys, old: vals, new: masked})
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if len(changes) == 0 {
			return nil
		}
		fts := t.name == "case_events" && rv.db.Dialect == tsql.SQLite
		if fts {
			if err := ftsSecureDelete(ctx, tx); err != nil {
				return err
			}
		}
		var set, match []string
		for _, c := range cols {
			set = append(set, c+" = ?")
			match = append(match, c+" = ?")
		}
		for _, k := range t.keys {
			match = append(match, k+" = ?")
		}
		update := rv.db.Rebind(`UPDATE ` + t.name + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + strings.Join(match, " AND "))
		for _, c := range changes {
			var a []any
			for _, v := range c.new {
				a = append(a, v)
			}
			for _, v := range c.old {
				a = append(a, v)
			}
			a = append(a, derefAll(c.keys)...)
			res, err := tx.ExecContext(ctx, update, a...)
			if err != nil {
				return fmt.Errorf("rewrite %v: %w", derefAll(c.keys), err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // changed meanwhile: written masked by the journal
			}
			changed++
			if fts {
				// The search index keeps its own copy of the text.
				if _, err := tx.ExecContext(ctx, `UPDATE case_events_fts SET text = ? WHERE case_id = ? AND seq = ?`,
					c.new[1], *c.keys[0].(*string), *c.keys[1].(*int64)); err != nil {
					return fmt.Errorf("rewrite the search index of %v: %w", derefAll(c.keys), err)
				}
			}
		}
		return nil
	})
	return read, changed, last, err
}

// remaskValue is v as the current rules would have stored it.
func remaskValue(kind int, v string) (string, error) {
	switch kind {
	case colContext:
		var c contextJSON
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			return "", fmt.Errorf("decode context: %w", err)
		}
		ivr := c.IVR
		if ivr != nil {
			ivr = mapSlice(c.IVR, storable)
		}
		m := contextJSON{Summary: storable(c.Summary), IVR: ivr, Attributes: storableMap(c.Attributes)}
		if m.Summary == c.Summary && slices.Equal(ivr, c.IVR) && maps.Equal(m.Attributes, c.Attributes) {
			return v, nil
		}
		b, err := json.Marshal(m)
		return string(b), err
	case colData:
		var d map[string]string
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return "", fmt.Errorf("decode data: %w", err)
		}
		m := storableMap(d)
		if maps.Equal(m, d) {
			return v, nil
		}
		b, err := json.Marshal(m)
		return string(b), err
	case colQuery:
		return storableQuery(v), nil
	}
	return storable(v), nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// derefAll is the values the scanned pointers point at.
func derefAll(ptrs []any) []any {
	out := make([]any, len(ptrs))
	for i, p := range ptrs {
		switch v := p.(type) {
		case *string:
			out[i] = *v
		case *int64:
			out[i] = *v
		case *time.Time:
			out[i] = ts(*v)
		default:
			out[i] = p
		}
	}
	return out
}

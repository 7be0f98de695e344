package transcripts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	tsql "tellonce/sql"
)

// The case log read by date, for reports and (with no end) the day so far.
// The legs are two selects joined by UNION rather than one WHERE with OR:
// an OR with a subquery cannot be served by indexes, so PostgreSQL would
// read the whole table; each half uses its own (migration 0016, and the
// case_id indexes for the closed cases). A leg is one row of its table,
// so UNION's removal of duplicates keeps exactly the rows the OR did.
const (
	rangeClosed   = `SELECT id FROM cases WHERE status = 'closed' AND closed_at >= ? AND closed_at < ?`
	contactCols   = `id AS contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition`
	rangeContacts = `SELECT ` + contactCols + ` FROM contacts WHERE enqueued_at < ? AND (ended_at IS NULL OR ended_at >= ?)
		UNION SELECT ` + contactCols + ` FROM contacts WHERE case_id IN (` + rangeClosed + `)`
	legCols       = `contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition`
	rangeRequeued = `SELECT ` + legCols + ` FROM requeued_legs WHERE enqueued_at < ? AND ended_at >= ?
		UNION SELECT ` + legCols + ` FROM requeued_legs WHERE case_id IN (` + rangeClosed + `)`
	rangeTransfers = `SELECT case_id, at, data FROM case_events WHERE type = 'transfer' AND at >= ? AND at < ?`
	rangeClosedAt  = `SELECT id, closed_at FROM cases WHERE status = 'closed' AND closed_at >= ? AND closed_at < ?`
)

// ReadRange reads what the case log holds of [from, to), for reports over
// any dates: the legs that were open at some moment of it (enqueued before
// to, not ended before from), every leg of a case that closed in it (its
// citizen's whole wait), the transfers from transfersSince to to (a warm
// transfer asked for before from counts when its target accepts) and the
// closings in it. A leg still open has a zero EndedAt.
func ReadRange(ctx context.Context, db *tsql.DB, from, to, transfersSince time.Time) (Day, error) {
	var d Day
	from, to = from.UTC(), to.UTC()
	for _, q := range []struct {
		what     string
		sql      string
		requeued bool
	}{{"contacts", rangeContacts, false}, {"requeued legs", rangeRequeued, true}} {
		var rows []loadedLeg
		if err := db.SelectContext(ctx, &rows, db.Rebind(q.sql), to, from, from, to); err != nil {
			return Day{}, fmt.Errorf("read %s to %s: %s: %w", from, to, q.what, err)
		}
		for _, r := range rows {
			d.Legs = append(d.Legs, DayLeg{ContactID: r.ContactID, CaseID: r.CaseID, Queue: r.Queue, Agency: r.Agency,
				Channel: r.Channel, Agent: r.Agent, EnqueuedAt: r.EnqueuedAt, AnsweredAt: r.AnsweredAt.Time,
				EndedAt: r.EndedAt.Time, Disposition: r.Disposition, Requeued: q.requeued})
		}
	}
	var transfers []struct {
		CaseID string    `db:"case_id"`
		At     time.Time `db:"at"`
		Data   string    `db:"data"`
	}
	if err := db.SelectContext(ctx, &transfers, db.Rebind(rangeTransfers), transfersSince.UTC(), to); err != nil {
		return Day{}, fmt.Errorf("read %s to %s: transfers: %w", from, to, err)
	}
	for _, t := range transfers {
		var data map[string]string
		if err := json.Unmarshal([]byte(t.Data), &data); err != nil {
			return Day{}, fmt.Errorf("read %s to %s: transfer of case %s: %w", from, to, t.CaseID, err)
		}
		d.Transfers = append(d.Transfers, DayTransfer{CaseID: t.CaseID, At: t.At, Data: data})
	}
	var closed []struct {
		ID       string    `db:"id"`
		ClosedAt time.Time `db:"closed_at"`
	}
	if err := db.SelectContext(ctx, &closed, db.Rebind(rangeClosedAt), from, to); err != nil {
		return Day{}, fmt.Errorf("read %s to %s: closed cases: %w", from, to, err)
	}
	for _, c := range closed {
		d.Closed = append(d.Closed, DayClosed{CaseID: c.ID, ClosedAt: c.ClosedAt})
	}
	return d, nil
}

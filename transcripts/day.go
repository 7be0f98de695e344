package transcripts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	tsql "tellonce/sql"
)

// Day is what the case log holds of a day so far, for whoever rebuilds the
// day's figures after a restart (the statistics): the legs that ended
// since the day's start or are still open, every leg of a case that closed
// since then (its citizen's whole wait), the transfers, and the closings.
type Day struct {
	Legs      []DayLeg
	Transfers []DayTransfer
	Closed    []DayClosed
}

// DayLeg is one leg: a contact's current one, or an earlier one of a
// contact that went back to its queue (Requeued). Zero times are unset.
type DayLeg struct {
	ContactID, CaseID, Queue, Agency, Channel, Agent string
	EnqueuedAt, AnsweredAt, EndedAt                  time.Time
	Disposition                                      string
	Requeued                                         bool
}

// DayTransfer is a transfer entry of a case's timeline.
type DayTransfer struct {
	CaseID string
	At     time.Time
	Data   map[string]string
}

// DayClosed is a case that closed.
type DayClosed struct {
	CaseID   string
	ClosedAt time.Time
}

const (
	dayClosedSince = `SELECT id FROM cases WHERE status = 'closed' AND closed_at >= ?`
	dayContacts    = `SELECT id AS contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition
		FROM contacts WHERE ended_at IS NULL OR ended_at >= ? OR case_id IN (` + dayClosedSince + `)`
	dayRequeued = `SELECT contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition
		FROM requeued_legs WHERE ended_at >= ? OR case_id IN (` + dayClosedSince + `)`
	dayTransfers = `SELECT case_id, at, data FROM case_events WHERE type = 'transfer' AND at >= ?`
	dayClosed    = `SELECT id, closed_at FROM cases WHERE status = 'closed' AND closed_at >= ?`
)

// ReadDay reads the day since start from the case log; transfers are read
// from transfersSince, which may reach back before start for a warm
// transfer asked for before it and accepted after.
func ReadDay(ctx context.Context, db *tsql.DB, start, transfersSince time.Time) (Day, error) {
	var d Day
	start = start.UTC()
	for _, q := range []struct {
		what     string
		sql      string
		requeued bool
	}{{"contacts", dayContacts, false}, {"requeued legs", dayRequeued, true}} {
		var rows []loadedLeg
		if err := db.SelectContext(ctx, &rows, db.Rebind(q.sql), start, start); err != nil {
			return Day{}, fmt.Errorf("read the day: %s: %w", q.what, err)
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
	if err := db.SelectContext(ctx, &transfers, db.Rebind(dayTransfers), transfersSince.UTC()); err != nil {
		return Day{}, fmt.Errorf("read the day: transfers: %w", err)
	}
	for _, t := range transfers {
		var data map[string]string
		if err := json.Unmarshal([]byte(t.Data), &data); err != nil {
			return Day{}, fmt.Errorf("read the day: transfer of case %s: %w", t.CaseID, err)
		}
		d.Transfers = append(d.Transfers, DayTransfer{CaseID: t.CaseID, At: t.At, Data: data})
	}
	var closed []struct {
		ID       string    `db:"id"`
		ClosedAt time.Time `db:"closed_at"`
	}
	if err := db.SelectContext(ctx, &closed, db.Rebind(dayClosed), start); err != nil {
		return Day{}, fmt.Errorf("read the day: closed cases: %w", err)
	}
	for _, c := range closed {
		d.Closed = append(d.Closed, DayClosed{CaseID: c.ID, ClosedAt: c.ClosedAt})
	}
	return d, nil
}

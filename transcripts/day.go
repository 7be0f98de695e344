package transcripts

import (
	"context"
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

// ReadDay reads the day since start from the case log; transfers are read
// from transfersSince, which may reach back before start for a warm
// transfer asked for before it and accepted after. It is ReadRange with no
// end: the day so far.
func ReadDay(ctx context.Context, db *tsql.DB, start, transfersSince time.Time) (Day, error) {
	d, err := ReadRange(ctx, db, start, start.AddDate(100, 0, 0), transfersSince)
	if err != nil {
		return Day{}, fmt.Errorf("read the day: %w", err)
	}
	return d, nil
}

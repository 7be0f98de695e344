package switchboard

import (
	"context"
	"errors"
	"fmt"

	"tellonce/cases"
)

// Journal waits until the router events up to seq are committed to SQL
// (transcripts.Journal implements it).
type Journal interface {
	Wait(ctx context.Context, seq uint64) error
}

// ErrNotDurable is a change that could not be confirmed committed in
// time: it may still be, so a client should check before repeating it.
var ErrNotDurable = errors.New("the change is not confirmed durable yet")

// Commit waits until evs, a change's events, are committed to SQL, so
// that the answer that follows is a promise the database keeps. A nil
// journal counts every change as durable (tools and tests without one).
func Commit(ctx context.Context, j Journal, evs []cases.Event) error {
	if len(evs) == 0 || j == nil {
		return nil
	}
	seq := evs[len(evs)-1].Seq
	if err := j.Wait(ctx, seq); err != nil {
		return fmt.Errorf("%w (event %d): %v", ErrNotDurable, seq, err)
	}
	return nil
}

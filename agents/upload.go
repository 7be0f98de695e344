package agents

import (
	"context"
	"errors"
	"fmt"

	"tellonce/cases"
)

// RecordUpload puts a recording a gateway uploaded over REST into its
// case's timeline, as the gateway frame recording does: the same reach
// (a voice or callback contact of the gateway's agency, or one it
// carries), the router's entry for an open case, an append to the
// durable log for a closed one. It returns once the entry is durable;
// whatever the gateway may not reach is cases.ErrNotFound. closed
// appends to a closed case (the caller's transcripts.Review); nil
// answers such a case cases.ErrNotFound.
func (h *Hub) RecordUpload(ctx context.Context, closed ClosedCases, agency, username, contactID string, rec cases.Recording) error {
	actor := "gateway:" + username
	switch ferr := h.gatewayMay(agency, contactID); {
	case ferr == nil:
		err := h.sb.Record(ctx, contactID, actor, rec)
		if err == nil || !errors.Is(err, cases.ErrNotFound) {
			return err
		}
		// The case closed meanwhile: on to the durable log.
	case ferr.Code != CodeNotFound:
		return fmt.Errorf("recording of %s: %s: %s", contactID, ferr.Code, ferr.Message)
	}
	if closed == nil {
		return fmt.Errorf("contact %s: %w", contactID, cases.ErrNotFound)
	}
	// Everything the router did is durable first, so that the case's
	// closing is in the log before the entry follows it.
	if err := h.sb.Settle(ctx); err != nil {
		return err
	}
	return closed.AppendRecording(ctx, agency, contactID, actor, rec)
}

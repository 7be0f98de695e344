package agents

import (
	"context"
	"errors"
	"time"

	"tellonce/cases"
)

// watchAbsent takes waiting chats whose citizen has been gone longer than
// ChatAbsent out of the line, until ctx ends (see Run).
func (h *Hub) watchAbsent(ctx context.Context) {
	t := time.NewTicker(min(time.Second, max(h.cfg.ChatAbsent/4, 10*time.Millisecond)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.expireAbsent(h.now())
		}
	}
}

// expireAbsent ends the waiting chats absent since before now-ChatAbsent.
// Those no longer waiting (answered, ended, become a callback) are only
// forgotten: an agent holds them, or nothing is left to leave.
func (h *Hub) expireAbsent(now time.Time) {
	h.mu.Lock()
	var due []string
	for id, since := range h.absent {
		if now.Sub(since) >= h.cfg.ChatAbsent {
			due = append(due, id)
			delete(h.absent, id)
		}
	}
	h.mu.Unlock()
	for _, id := range due {
		cv, err := h.sb.Peek(id)
		if err != nil || cv.Channel != cases.ChannelChat {
			continue
		}
		if err := h.sb.LeaveAbsent(id); err != nil && !errors.Is(err, cases.ErrConflict) && !errors.Is(err, cases.ErrNotFound) {
			h.log.Warn("absent chat not taken out of line", "contact", id, "err", err)
		}
	}
}

package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// PublicQueue is one line of the public status page.
type PublicQueue struct {
	Queue  string `json:"queue"`
	Agency string `json:"agency"`
	Name   string `json:"name"`
	Light  string `json:"light"`
	Label  string `json:"label"`
	// EstimatedWaitS is null when nobody staffs the queue or it is closed.
	EstimatedWaitS *int `json:"estimated_wait_s"`
	// OpensAt is when a closed queue next opens (light "closed").
	OpensAt *time.Time `json:"opens_at,omitempty"`
	// LabelEn is Label in English.
	LabelEn string `json:"label_en,omitempty"`
}

// PublicFunc lists the queues the public may see (the directory's public
// flag, which the router does not hold).
type PublicFunc func(ctx context.Context) (map[string]bool, error)

// statusCache holds the encoded public status of one view.
type statusCache struct {
	cur    atomic.Pointer[encodedStatus]
	mu     sync.Mutex      // one encoding at a time
	public map[string]bool // last list that could be read
}

type encodedStatus struct {
	view *view
	body []byte
}

// PublicStatus returns the JSON array of PublicQueue for the public
// queues, by queue id. It is encoded once per computation of the live
// figures (at most once per Interval); public is asked then too. If public
// fails, the last list it gave is used; if it never gave one, the error is
// returned.
func (s *Stats) PublicStatus(ctx context.Context, public PublicFunc) ([]byte, error) {
	v := s.current()
	c := &s.status
	if e := c.cur.Load(); e != nil && e.view == v {
		return e.body, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cur.Load(); e != nil && e.view == v {
		return e.body, nil
	}
	pub, err := public(ctx)
	switch {
	case err == nil:
		c.public = pub
	case c.public == nil:
		return nil, fmt.Errorf("public status: %w", err)
	default:
		s.cfg.Log.Warn("public status: list of public queues unavailable; using the last one", "err", err)
	}
	items := make([]PublicQueue, 0, len(v.queues))
	for _, q := range v.queues {
		if c.public[q.Queue] {
			items = append(items, PublicQueue{Queue: q.Queue, Agency: q.Agency, Name: q.Name,
				Light: q.Light, Label: q.Label, EstimatedWaitS: q.EstimatedWaitS, OpensAt: q.OpensAt, LabelEn: q.LabelEn})
		}
	}
	body, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("public status: %w", err)
	}
	body = append(body, '\n')
	c.cur.Store(&encodedStatus{view: v, body: body})
	return body, nil
}

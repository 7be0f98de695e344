package router

import (
	"fmt"
	"sort"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"tellonce/cases"
)

func checkID(field, s string) error { return cases.CheckID(field, s) }

func checkSkills(field string, skills map[string]int) error { return cases.CheckSkills(field, skills) }

// UpsertQueue creates or replaces a queue's configuration. Contacts already
// waiting keep the requirements they were enqueued with.
func (r *Router) UpsertQueue(cfg QueueConfig) ([]Event, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("upsert queue %s: %w", cfg.ID, err)
	}
	return r.write(func(w *writer) error { return w.upsertQueueTxn(cfg) })
}

func (w *writer) upsertQueueTxn(cfg QueueConfig) error {
	row := &queueRow{QueueConfig: cfg.Clone()}
	old, err := w.queue(cfg.ID)
	if err == nil {
		row.RRLast = old.RRLast
	}
	if err := w.putQueue(row); err != nil {
		return err
	}
	if old != nil && old.Aging != cfg.Aging {
		if err := w.rerankQueue(cfg.ID); err != nil {
			return err
		}
	}
	// The new configuration may make someone eligible: try the whole line.
	return w.markQueueWaiting(cfg.ID)
}

// rerankQueue rewrites the rank of the queue's waiting contacts after its
// aging changed.
func (w *writer) rerankQueue(queue string) error {
	var line []*contactRow
	for _, class := range classes {
		scanLine(w.m.line(queue, class), func(c *contactRow) bool { line = append(line, c.copy()); return true })
	}
	for _, c := range line { // the lines change under the puts: walk first
		if err := w.putContact(c); err != nil {
			return err
		}
	}
	return nil
}

// markQueueWaiting re-places the queue's line and the contacts overflowed
// into it (its overflow policy or reserve may have changed).
func (w *writer) markQueueWaiting(queue string) error {
	for _, class := range classes {
		scanLine(w.m.line(queue, class), func(c *contactRow) bool { w.markWaiting(c.ID); return true })
		scanLine(w.m.overflow[lineID(queue, class)], func(c *contactRow) bool { w.markWaiting(c.ID); return true })
	}
	return nil
}

// RemoveQueue deletes a queue; it refuses (ErrConflict) while the queue has
// live contacts.
func (r *Router) RemoveQueue(id string) ([]Event, error) {
	return r.write(func(w *writer) error {
		q, err := w.queue(id)
		if err != nil {
			return fmt.Errorf("remove queue: %w", err)
		}
		if n, err := liveInQueue(w.tx(), id); err != nil {
			return err
		} else if n > 0 {
			return fmt.Errorf("remove queue %s: %d live contacts: %w", id, n, ErrConflict)
		}
		return w.deleteQueue(q)
	})
}

// liveInQueue counts the queue's live contacts of every kind: waiting,
// scheduled, offered, assigned, pending warm-transfer legs and interpreter
// legs. No index holds all of them (the caller index leaves out the legs
// that are not a caller's own place), so it reads every contact: removing
// a queue is rare, and a wrong answer would strand contacts.
func liveInQueue(txn *memdb.Txn, queue string) (int, error) {
	it, err := txn.Get(tableContacts, indexID)
	if err != nil {
		return 0, fmt.Errorf("queue %s contacts: %w", queue, err)
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if c := raw.(*contactRow); c.Queue == queue && c.Status.Live() {
			n++
		}
	}
	return n, nil
}

// Queue returns a queue's configuration.
func (r *Router) Queue(id string) (QueueConfig, error) {
	var out QueueConfig
	err := r.read(func(txn *memdb.Txn) error {
		q, err := getQueue(txn, id)
		if err != nil {
			return err
		}
		out = q.QueueConfig.Clone()
		return nil
	})
	return out, err
}

// Queues lists every queue's configuration, by id.
func (r *Router) Queues() []QueueConfig {
	var out []QueueConfig
	_ = r.read(func(txn *memdb.Txn) error {
		it, err := txn.Get(tableQueues, indexID)
		if err != nil {
			return err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			out = append(out, raw.(*queueRow).QueueConfig.Clone())
		}
		return nil
	})
	return out
}

// QueueSnapshot reports a queue's line and its agents by state.
func (r *Router) QueueSnapshot(id string) (QueueStats, error) {
	var out QueueStats
	err := r.readLines(id, func(txn *memdb.Txn, lines [2]*lineTree) error {
		q, err := getQueue(txn, id)
		if err != nil {
			return err
		}
		now := r.clock.Now()
		out = QueueStats{Queue: q.ID, Agency: q.Agency, Name: q.Name, Agents: map[AgentState]int{}}
		for _, t := range lines {
			scanLine(t, func(c *contactRow) bool {
				out.Waiting++
				if out.OldestEnqueuedAt.IsZero() || c.EnqueuedAt.Before(out.OldestEnqueuedAt) {
					out.OldestEnqueuedAt = c.EnqueuedAt
				}
				return true
			})
		}
		if out.Waiting > 0 {
			out.LongestWait = max(now.Sub(out.OldestEnqueuedAt), time.Duration(0))
		}
		return eachMember(txn, id, func(u string) (*agentRow, error) { return getAgent(txn, u) }, func(a *agentRow) bool {
			out.Agents[a.display()]++
			return true
		})
	})
	if err != nil {
		return QueueStats{}, fmt.Errorf("queue snapshot: %w", err)
	}
	return out, nil
}

// sortedQueues is a profile's queue ids in order, for deterministic loops.
func sortedQueues(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for q := range m {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

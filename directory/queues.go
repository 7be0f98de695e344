package directory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/schedule"
	tsql "tellonce/sql"
)

// queueRow is a queue as stored; JSON-valued columns are text on both
// backends so that the same queries serve both.
type queueRow struct {
	ID              string    `db:"id"`
	Agency          string    `db:"agency_id"`
	Name            string    `db:"name"`
	Kind            string    `db:"kind"`
	Channels        string    `db:"channels"`
	RequiredSkills  string    `db:"required_skills"`
	Strategy        string    `db:"strategy"`
	OfferTimeoutS   int       `db:"offer_timeout_s"`
	WrapupS         int       `db:"wrapup_s"`
	WidenAfterS     int       `db:"widen_after_s"`
	OverflowPolicy  string    `db:"overflow_policy"`
	HelpMinIdle     int       `db:"help_min_idle"`
	SLAWithinS      int       `db:"sla_answer_within_s"`
	SLATargetPct    int       `db:"sla_target_pct"`
	CallbackAfterS  int       `db:"callback_after_s"`
	CallbackRetries int       `db:"callback_retries"`
	CallbackRetryS  int       `db:"callback_retry_s"`
	MaxWaiting      int       `db:"max_waiting"`
	Public          bool      `db:"public"`
	Hours           string    `db:"hours"`
	AgingS          int       `db:"aging_s"`
	CreatedAt       time.Time `db:"created_at"`
	UpdatedAt       time.Time `db:"updated_at"`
}

const queueColumns = `id, agency_id, name, kind, channels, required_skills, strategy, offer_timeout_s, wrapup_s,
	widen_after_s, overflow_policy, sla_answer_within_s, sla_target_pct, callback_after_s, callback_retries,
	callback_retry_s, max_waiting, public, hours, aging_s, help_min_idle, created_at, updated_at`

func toRow(q Queue) queueRow {
	return queueRow{
		ID: q.ID, Agency: q.Agency, Name: q.Name, Kind: q.Kind,
		Channels: mustJSON(q.Channels), RequiredSkills: mustJSON(q.RequiredSkills),
		Strategy: q.Strategy, OfferTimeoutS: q.OfferTimeoutS, WrapupS: q.WrapupS,
		WidenAfterS: q.WidenAfterS, OverflowPolicy: q.OverflowPolicy, HelpMinIdle: q.HelpWhile.MinIdle,
		SLAWithinS: q.SLA.AnswerWithinS, SLATargetPct: q.SLA.TargetPct,
		CallbackAfterS: q.CallbackAfterS, CallbackRetries: q.CallbackRetries, CallbackRetryS: q.CallbackRetryS,
		MaxWaiting: q.MaxWaiting, Public: q.Public, Hours: hoursText(q.Hours), AgingS: q.AgingS,
		CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt,
	}
}

// hoursText is the stored form of a queue's hours: "" for none.
func hoursText(w *schedule.Week) string {
	if w == nil {
		return ""
	}
	return mustJSON(w)
}

func (r queueRow) queue() (Queue, error) {
	q := Queue{
		ID: r.ID, Agency: r.Agency, Name: r.Name, Kind: r.Kind, Strategy: r.Strategy,
		OfferTimeoutS: r.OfferTimeoutS, WrapupS: r.WrapupS, WidenAfterS: r.WidenAfterS,
		OverflowPolicy: r.OverflowPolicy, HelpWhile: HelpWhile{MinIdle: r.HelpMinIdle},
		SLA:            SLA{AnswerWithinS: r.SLAWithinS, TargetPct: r.SLATargetPct},
		CallbackAfterS: r.CallbackAfterS, CallbackRetries: r.CallbackRetries, CallbackRetryS: r.CallbackRetryS,
		MaxWaiting: r.MaxWaiting, Public: r.Public, AgingS: r.AgingS,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Overflow: []OverflowRule{},
	}
	if err := json.Unmarshal([]byte(r.Channels), &q.Channels); err != nil {
		return Queue{}, fmt.Errorf("queue %s: channels: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.RequiredSkills), &q.RequiredSkills); err != nil {
		return Queue{}, fmt.Errorf("queue %s: required_skills: %w", r.ID, err)
	}
	if r.Hours != "" {
		q.Hours = &schedule.Week{}
		if err := json.Unmarshal([]byte(r.Hours), q.Hours); err != nil {
			return Queue{}, fmt.Errorf("queue %s: hours: %w", r.ID, err)
		}
	}
	return q, nil
}

// CreateQueue stores a new queue of agency. Overflow targets must exist.
func (s *Store) CreateQueue(ctx context.Context, agency string, r QueueCreate) (Queue, error) {
	if err := r.Validate(); err != nil {
		return Queue{}, err
	}
	q, err := r.Queue(agency)
	if err != nil {
		return Queue{}, err
	}
	now := s.stamp()
	q.CreatedAt, q.UpdatedAt = now, now
	err = s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := getAgency(ctx, tx, s.q, agency); err != nil {
			return err
		}
		if err := s.checkOverflowTargets(ctx, tx, q.Overflow); err != nil {
			return err
		}
		_, err := tx.NamedExecContext(ctx, `INSERT INTO queues (`+queueColumns+`) VALUES (:id, :agency_id, :name,
			:kind, :channels, :required_skills, :strategy, :offer_timeout_s, :wrapup_s, :widen_after_s, :overflow_policy,
			:sla_answer_within_s, :sla_target_pct, :callback_after_s, :callback_retries, :callback_retry_s,
			:max_waiting, :public, :hours, :aging_s, :help_min_idle, :created_at, :updated_at)`, toRow(q))
		if tsql.IsUniqueViolation(err) {
			return conflict("queue %s already exists", q.ID)
		}
		if err != nil {
			return fmt.Errorf("create queue %s: %w", q.ID, err)
		}
		return s.writeOverflow(ctx, tx, q)
	})
	if err != nil {
		return Queue{}, err
	}
	return q, nil
}

func (s *Store) checkOverflowTargets(ctx context.Context, tx *sqlx.Tx, rules []OverflowRule) error {
	for i, r := range rules {
		var n int
		if err := tx.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM queues WHERE id = ?`), r.To); err != nil {
			return fmt.Errorf("check overflow target %s: %w", r.To, err)
		}
		if n == 0 {
			return invalid(fmt.Sprintf("overflow[%d].to", i), "queue %s does not exist", r.To)
		}
	}
	return nil
}

func (s *Store) writeOverflow(ctx context.Context, tx *sqlx.Tx, q Queue) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM queue_overflow WHERE queue_id = ?`), q.ID); err != nil {
		return fmt.Errorf("write overflow of %s: %w", q.ID, err)
	}
	for i, r := range q.Overflow {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO queue_overflow (queue_id, position, after_s, to_queue_id) VALUES (?, ?, ?, ?)`),
			q.ID, i, r.AfterS, r.To); err != nil {
			return fmt.Errorf("write overflow of %s: %w", q.ID, err)
		}
	}
	return nil
}

// GetQueue returns one queue.
func (s *Store) GetQueue(ctx context.Context, id string) (Queue, error) {
	return s.getQueue(ctx, s.db, id)
}

func (s *Store) getQueue(ctx context.Context, q sqlx.QueryerContext, id string) (Queue, error) {
	var r queueRow
	err := sqlx.GetContext(ctx, q, &r, s.q(`SELECT `+queueColumns+` FROM queues WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Queue{}, fmt.Errorf("queue %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Queue{}, fmt.Errorf("get queue %s: %w", id, err)
	}
	qs, err := s.withOverflow(ctx, q, []queueRow{r})
	if err != nil {
		return Queue{}, err
	}
	return qs[0], nil
}

// QueueFilter narrows a queue list; empty fields match everything.
type QueueFilter struct {
	Agency string
}

// ListQueues returns queues in id order after p.After, and whether more
// follow.
func (s *Store) ListQueues(ctx context.Context, f QueueFilter, p Page) ([]Queue, bool, error) {
	limit := pageLimit(p)
	var rows []queueRow
	query := `SELECT ` + queueColumns + ` FROM queues WHERE id > ?`
	args := []any{p.After}
	if f.Agency != "" {
		query += ` AND agency_id = ?`
		args = append(args, f.Agency)
	}
	query += ` ORDER BY id LIMIT ?`
	args = append(args, limit+1)
	if err := s.db.SelectContext(ctx, &rows, s.q(query), args...); err != nil {
		return nil, false, fmt.Errorf("list queues: %w", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	qs, err := s.withOverflow(ctx, s.db, rows)
	return qs, more, err
}

// withOverflow converts rows and attaches their overflow rules in one query.
func (s *Store) withOverflow(ctx context.Context, q sqlx.QueryerContext, rows []queueRow) ([]Queue, error) {
	out := make([]Queue, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]any, len(rows))
	index := map[string]int{}
	for i, r := range rows {
		qu, err := r.queue()
		if err != nil {
			return nil, err
		}
		out = append(out, qu)
		ids[i] = r.ID
		index[r.ID] = i
	}
	var rules []struct {
		QueueID string `db:"queue_id"`
		AfterS  int    `db:"after_s"`
		To      string `db:"to_queue_id"`
	}
	query := `SELECT queue_id, after_s, to_queue_id FROM queue_overflow WHERE queue_id IN (?` +
		strings.Repeat(`, ?`, len(ids)-1) + `) ORDER BY queue_id, position`
	if err := sqlx.SelectContext(ctx, q, &rules, s.q(query), ids...); err != nil {
		return nil, fmt.Errorf("read overflow rules: %w", err)
	}
	for _, r := range rules {
		i := index[r.QueueID]
		out[i].Overflow = append(out[i].Overflow, OverflowRule{AfterS: r.AfterS, To: r.To})
	}
	return out, nil
}

// UpdateQueue applies a patch to one queue.
func (s *Store) UpdateQueue(ctx context.Context, id string, p QueueSettings) (Queue, error) {
	var out Queue
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		q, err := s.getQueue(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := p.Apply(&q); err != nil {
			return err
		}
		if err := s.checkOverflowTargets(ctx, tx, q.Overflow); err != nil {
			return err
		}
		q.UpdatedAt = s.stamp()
		if _, err := tx.NamedExecContext(ctx, `UPDATE queues SET name = :name, kind = :kind, channels = :channels,
			required_skills = :required_skills, strategy = :strategy, offer_timeout_s = :offer_timeout_s,
			wrapup_s = :wrapup_s, widen_after_s = :widen_after_s, overflow_policy = :overflow_policy,
			sla_answer_within_s = :sla_answer_within_s, sla_target_pct = :sla_target_pct,
			callback_after_s = :callback_after_s, callback_retries = :callback_retries,
			callback_retry_s = :callback_retry_s, max_waiting = :max_waiting, public = :public,
			hours = :hours, aging_s = :aging_s, help_min_idle = :help_min_idle, updated_at = :updated_at
			WHERE id = :id`, toRow(q)); err != nil {
			return fmt.Errorf("update queue %s: %w", id, err)
		}
		if p.Overflow != nil {
			if err := s.writeOverflow(ctx, tx, q); err != nil {
				return err
			}
		}
		out = q
		return nil
	})
	return out, err
}

// DeleteQueue removes a queue. It refuses (ErrConflict) while another
// queue's overflow rule points at it; memberships of the queue go with it.
// inUse, when not nil, is asked inside the transaction whether live
// contacts still wait in the queue.
func (s *Store) DeleteQueue(ctx context.Context, id string, inUse func(queue string) error) error {
	return s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.getQueue(ctx, tx, id); err != nil {
			return err
		}
		var from []string
		if err := tx.SelectContext(ctx, &from, s.q(`SELECT queue_id FROM queue_overflow WHERE to_queue_id = ? ORDER BY queue_id`), id); err != nil {
			return fmt.Errorf("delete queue %s: %w", id, err)
		}
		if len(from) > 0 {
			return conflict("queue %s is an overflow target of %s: change those rules first", id, strings.Join(from, ", "))
		}
		if inUse != nil {
			if err := inUse(id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM queues WHERE id = ?`), id); err != nil {
			return fmt.Errorf("delete queue %s: %w", id, err)
		}
		return nil
	})
}

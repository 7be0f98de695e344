package directory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	tsql "tellonce/sql"
)

// Store keeps the directory in SQL. Every write runs in one transaction,
// so a request that fails leaves nothing behind.
type Store struct {
	db  *tsql.DB
	now func() time.Time
}

// NewStore returns a store over db; now is the clock (nil: time.Now).
func NewStore(db *tsql.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

// stamp is the store's notion of "now", at the precision both backends keep.
func (s *Store) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Store) q(query string) string { return s.db.Rebind(query) }

// pageLimit bounds a list request; it asks for one more row than it
// returns to know whether another page follows.
func pageLimit(p Page) int {
	if p.Limit <= 0 || p.Limit > 500 {
		return 100
	}
	return p.Limit
}

// CreateAgency stores a new agency; ErrConflict when the id is taken.
func (s *Store) CreateAgency(ctx context.Context, r AgencyCreate) (Agency, error) {
	if err := r.Validate(); err != nil {
		return Agency{}, err
	}
	now := s.stamp()
	a := Agency{ID: r.ID, Name: strings.TrimSpace(r.Name), Description: r.Description,
		TimeZone: r.TimeZone, Holidays: Holidays(slices.Clone(r.Holidays)), CreatedAt: now, UpdatedAt: now}
	if a.Holidays == nil {
		a.Holidays = Holidays{}
	}
	_, err := s.db.NamedExecContext(ctx, `INSERT INTO agencies (id, name, description, time_zone, holidays, created_at, updated_at)
		VALUES (:id, :name, :description, :time_zone, :holidays, :created_at, :updated_at)`, a)
	if tsql.IsUniqueViolation(err) {
		return Agency{}, conflict("agency %s already exists", r.ID)
	}
	if err != nil {
		return Agency{}, fmt.Errorf("create agency %s: %w", r.ID, err)
	}
	return a, nil
}

const agencyColumns = `id, name, description, time_zone, holidays, created_at, updated_at`

// GetAgency returns one agency.
func (s *Store) GetAgency(ctx context.Context, id string) (Agency, error) {
	return getAgency(ctx, s.db, s.q, id)
}

func getAgency(ctx context.Context, q sqlx.QueryerContext, rebind func(string) string, id string) (Agency, error) {
	var a Agency
	err := sqlx.GetContext(ctx, q, &a, rebind(`SELECT `+agencyColumns+` FROM agencies WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Agency{}, fmt.Errorf("agency %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Agency{}, fmt.Errorf("get agency %s: %w", id, err)
	}
	return a.inUTC(), nil
}

// inUTC returns the agency with its times in UTC, as they were written:
// PostgreSQL reads them back in the session's time zone.
func (a Agency) inUTC() Agency {
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a
}

// ListAgencies returns agencies in id order after p.After, and whether
// more follow.
func (s *Store) ListAgencies(ctx context.Context, p Page) ([]Agency, bool, error) {
	limit := pageLimit(p)
	var as []Agency
	err := s.db.SelectContext(ctx, &as, s.q(`SELECT `+agencyColumns+`
		FROM agencies WHERE id > ? ORDER BY id LIMIT ?`), p.After, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list agencies: %w", err)
	}
	more := len(as) > limit
	if more {
		as = as[:limit]
	}
	for i := range as {
		as[i] = as[i].inUTC()
	}
	return as, more, nil
}

// UpdateAgency applies a patch to one agency.
func (s *Store) UpdateAgency(ctx context.Context, id string, p AgencyPatch) (Agency, error) {
	if err := p.Validate(); err != nil {
		return Agency{}, err
	}
	var out Agency
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		a, err := getAgency(ctx, tx, s.q, id)
		if err != nil {
			return err
		}
		if p.Name != nil {
			a.Name = strings.TrimSpace(*p.Name)
		}
		if p.Description != nil {
			a.Description = *p.Description
		}
		if p.TimeZone != nil {
			a.TimeZone = *p.TimeZone
		}
		if p.Holidays != nil {
			a.Holidays = Holidays(slices.Clone(*p.Holidays))
		}
		a.UpdatedAt = s.stamp()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE agencies SET name = ?, description = ?, time_zone = ?, holidays = ?,
			updated_at = ? WHERE id = ?`),
			a.Name, a.Description, a.TimeZone, a.Holidays, a.UpdatedAt, a.ID); err != nil {
			return fmt.Errorf("update agency %s: %w", id, err)
		}
		out = a
		return nil
	})
	return out, err
}

// DeleteAgency removes an agency that has no queues and no users left.
func (s *Store) DeleteAgency(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := getAgency(ctx, tx, s.q, id); err != nil {
			return err
		}
		var queues, users int
		if err := tx.GetContext(ctx, &queues, s.q(`SELECT COUNT(*) FROM queues WHERE agency_id = ?`), id); err != nil {
			return fmt.Errorf("delete agency %s: %w", id, err)
		}
		if err := tx.GetContext(ctx, &users, s.q(`SELECT COUNT(*) FROM users WHERE agency_id = ?`), id); err != nil {
			return fmt.Errorf("delete agency %s: %w", id, err)
		}
		if queues > 0 || users > 0 {
			return conflict("agency %s still has %d queues and %d users: delete or move them first", id, queues, users)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM agencies WHERE id = ?`), id); err != nil {
			return fmt.Errorf("delete agency %s: %w", id, err)
		}
		return nil
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // only plain maps and slices reach here
	}
	return string(b)
}

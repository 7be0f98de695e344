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

type userRow struct {
	Username     string         `db:"username"`
	Name         string         `db:"name"`
	PasswordHash string         `db:"password_hash"`
	Role         string         `db:"role"`
	Agency       sql.NullString `db:"agency_id"`
	Skills       string         `db:"skills"`
	MaxChats     int            `db:"max_chats"`
	PII          bool           `db:"pii"`
	Export       bool           `db:"can_export"`
	SIPURI       string         `db:"sip_uri"`
	CreatedAt    time.Time      `db:"created_at"`
	UpdatedAt    time.Time      `db:"updated_at"`
}

const userColumns = `username, name, password_hash, role, agency_id, skills, max_chats, pii, can_export, sip_uri, created_at, updated_at`

func (r userRow) user() (User, error) {
	u := User{
		Username: r.Username, Name: r.Name, Role: r.Role, Agency: r.Agency.String,
		MaxChats: r.MaxChats, PII: r.PII, Export: r.Export, SIPURI: r.SIPURI, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Queues: []Membership{},
	}
	if err := json.Unmarshal([]byte(r.Skills), &u.Skills); err != nil {
		return User{}, fmt.Errorf("user %s: skills: %w", r.Username, err)
	}
	return u, nil
}

func agencyColumn(agency string) sql.NullString {
	return sql.NullString{String: agency, Valid: agency != ""}
}

// CreateUser stores a new user with an already hashed password. The agency
// and every queue of the memberships must exist.
func (s *Store) CreateUser(ctx context.Context, r UserCreate, passwordHash string) (User, error) {
	if err := r.Validate(); err != nil {
		return User{}, err
	}
	u := r.NewUser()
	now := s.stamp()
	u.CreatedAt, u.UpdatedAt = now, now
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if u.Agency != "" {
			if _, err := getAgency(ctx, tx, s.q, u.Agency); errors.Is(err, ErrNotFound) {
				return invalid("agency", "agency %s does not exist", u.Agency)
			} else if err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			u.Username, u.Name, passwordHash, u.Role, agencyColumn(u.Agency), mustJSON(u.Skills), u.MaxChats, u.PII, u.Export, u.SIPURI, now, now)
		if tsql.IsUniqueViolation(err) {
			return conflict("user %s already exists", u.Username)
		}
		if err != nil {
			return fmt.Errorf("create user %s: %w", u.Username, err)
		}
		if err := s.writeMemberships(ctx, tx, u.Username, u.Queues); err != nil {
			return err
		}
		// Answer with the user as a read gives it (memberships in queue
		// order), not as the request listed it.
		u, _, err = s.getUser(ctx, tx, u.Username)
		return err
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func (s *Store) writeMemberships(ctx context.Context, tx *sqlx.Tx, username string, ms []Membership) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM user_queues WHERE username = ?`), username); err != nil {
		return fmt.Errorf("write queues of %s: %w", username, err)
	}
	for i, m := range ms {
		var n int
		if err := tx.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM queues WHERE id = ?`), m.Queue); err != nil {
			return fmt.Errorf("write queues of %s: %w", username, err)
		}
		if n == 0 {
			return invalid(fmt.Sprintf("queues[%d].queue", i), "queue %s does not exist", m.Queue)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO user_queues (username, queue_id, level) VALUES (?, ?, ?)`),
			username, m.Queue, m.Level); err != nil {
			return fmt.Errorf("write queues of %s: %w", username, err)
		}
	}
	return nil
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, username string) (User, error) {
	u, _, err := s.getUser(ctx, s.db, username)
	return u, err
}

// Credentials returns a user with their password hash, for logging in.
// Its errors do not name the user: a login's user name is whatever was
// typed, a password typed in the wrong field even, and errors are logged.
func (s *Store) Credentials(ctx context.Context, username string) (User, string, error) {
	u, hash, err := s.readUser(ctx, s.db, username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("read a login's user: %w", err)
	}
	return u, hash, err
}

func (s *Store) getUser(ctx context.Context, q sqlx.QueryerContext, username string) (User, string, error) {
	u, hash, err := s.readUser(ctx, q, username)
	switch {
	case errors.Is(err, ErrNotFound):
		return User{}, "", fmt.Errorf("user %s: %w", username, ErrNotFound)
	case err != nil:
		return User{}, "", fmt.Errorf("get user %s: %w", username, err)
	}
	return u, hash, nil
}

// readUser is getUser with errors that do not name the user: ErrNotFound
// itself, or the database's error.
func (s *Store) readUser(ctx context.Context, q sqlx.QueryerContext, username string) (User, string, error) {
	var r userRow
	err := sqlx.GetContext(ctx, q, &r, s.q(`SELECT `+userColumns+` FROM users WHERE username = ?`), username)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", ErrNotFound
	}
	if err != nil {
		return User{}, "", err
	}
	us, err := s.withMemberships(ctx, q, []userRow{r})
	if err != nil {
		return User{}, "", err
	}
	return us[0], r.PasswordHash, nil
}

// UserFilter narrows a user list; empty fields match everything.
type UserFilter struct {
	Agency string
	Role   string
}

// ListUsers returns users in username order after p.After, and whether
// more follow.
func (s *Store) ListUsers(ctx context.Context, f UserFilter, p Page) ([]User, bool, error) {
	limit := pageLimit(p)
	query := `SELECT ` + userColumns + ` FROM users WHERE username > ?`
	args := []any{p.After}
	if f.Agency != "" {
		query += ` AND agency_id = ?`
		args = append(args, f.Agency)
	}
	if f.Role != "" {
		query += ` AND role = ?`
		args = append(args, f.Role)
	}
	query += ` ORDER BY username LIMIT ?`
	args = append(args, limit+1)
	var rows []userRow
	if err := s.db.SelectContext(ctx, &rows, s.q(query), args...); err != nil {
		return nil, false, fmt.Errorf("list users: %w", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	us, err := s.withMemberships(ctx, s.db, rows)
	return us, more, err
}

func (s *Store) withMemberships(ctx context.Context, q sqlx.QueryerContext, rows []userRow) ([]User, error) {
	out := make([]User, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	names := make([]any, len(rows))
	index := map[string]int{}
	for i, r := range rows {
		u, err := r.user()
		if err != nil {
			return nil, err
		}
		out = append(out, u)
		names[i] = r.Username
		index[r.Username] = i
	}
	var ms []struct {
		Username string `db:"username"`
		Queue    string `db:"queue_id"`
		Level    int    `db:"level"`
	}
	query := `SELECT username, queue_id, level FROM user_queues WHERE username IN (?` +
		strings.Repeat(`, ?`, len(names)-1) + `) ORDER BY username, queue_id`
	if err := sqlx.SelectContext(ctx, q, &ms, s.q(query), names...); err != nil {
		return nil, fmt.Errorf("read memberships: %w", err)
	}
	for _, m := range ms {
		i := index[m.Username]
		out[i].Queues = append(out[i].Queues, Membership{Queue: m.Queue, Level: m.Level})
	}
	return out, nil
}

// UpdateUser applies a patch to one user. check, when not nil, sees the
// user before and after the patch inside the transaction and may refuse
// (the caller's permission rules); newHash, when not empty, replaces the
// password hash.
func (s *Store) UpdateUser(ctx context.Context, username string, p UserPatch, newHash string, check func(before, after User) error) (User, error) {
	var out User
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, _, err := s.getUser(ctx, tx, username)
		if err != nil {
			return err
		}
		after := before
		after.Skills = cloneSkills(before.Skills)
		after.Queues = append([]Membership(nil), before.Queues...)
		if err := p.Apply(&after); err != nil {
			return err
		}
		if check != nil {
			if err := check(before, after); err != nil {
				return err
			}
		}
		if before.Role == RoleAdmin && after.Role != RoleAdmin {
			if err := s.keepOneAdmin(ctx, tx, username); err != nil {
				return err
			}
		}
		after.UpdatedAt = s.stamp()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET name = ?, role = ?, skills = ?, max_chats = ?, pii = ?, can_export = ?, sip_uri = ?, updated_at = ? WHERE username = ?`),
			after.Name, after.Role, mustJSON(after.Skills), after.MaxChats, after.PII, after.Export, after.SIPURI, after.UpdatedAt, username); err != nil {
			return fmt.Errorf("update user %s: %w", username, err)
		}
		if newHash != "" {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ? WHERE username = ?`), newHash, username); err != nil {
				return fmt.Errorf("update user %s: %w", username, err)
			}
			// A new password ends every session of the old one.
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE username = ?`), username); err != nil {
				return fmt.Errorf("update user %s: %w", username, err)
			}
		}
		if p.Queues != nil {
			if err := s.writeMemberships(ctx, tx, username, after.Queues); err != nil {
				return err
			}
		}
		// Answer with the user as a read gives it (memberships in queue
		// order, none as an empty list), not as the patch left it.
		out, _, err = s.getUser(ctx, tx, username)
		return err
	})
	return out, err
}

// DeleteUser removes a user, their memberships and their sessions. check,
// when not nil, may refuse after seeing the user.
func (s *Store) DeleteUser(ctx context.Context, username string, check func(User) error) error {
	return s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		u, _, err := s.getUser(ctx, tx, username)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(u); err != nil {
				return err
			}
		}
		if u.Role == RoleAdmin {
			if err := s.keepOneAdmin(ctx, tx, username); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE username = ?`), username); err != nil {
			return fmt.Errorf("delete user %s: %w", username, err)
		}
		return nil
	})
}

// keepOneAdmin refuses a change that would leave no admin account. On
// PostgreSQL it locks the admins' rows until the change commits: of two
// changes at once, each leaving the other's admin, the second waits for
// the first and sees what it did. (SQLite runs one writer at a time.)
// The lock leaves logins be: a new session only shares the key.
func (s *Store) keepOneAdmin(ctx context.Context, tx *sqlx.Tx, username string) error {
	query := `SELECT username FROM users WHERE role = ? ORDER BY username`
	if s.db.Dialect == tsql.Postgres {
		query += ` FOR NO KEY UPDATE`
	}
	var admins []string
	if err := tx.SelectContext(ctx, &admins, s.q(query), RoleAdmin); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if !slices.ContainsFunc(admins, func(a string) bool { return a != username }) {
		return conflict("%s is the last admin: create another admin first", username)
	}
	return nil
}

// CountAdmins returns how many admin accounts exist, so the last one is
// never deleted or demoted and the first start can create one.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM users WHERE role = ?`), RoleAdmin); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

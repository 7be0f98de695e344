package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	tsql "tellonce/sql"
)

// Principal is who a request acts as.
type Principal struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Agency   string `json:"agency"`
	PII      bool   `json:"pii"`
	// Export: the user may export transcripts and download recordings.
	Export bool `json:"export"`
	// SessionID identifies the login, for logging out.
	SessionID string `json:"-"`
	// ExpiresAt is when the login ends, for connections that outlive the
	// request that authenticated them.
	ExpiresAt time.Time `json:"-"`
}

// ErrInvalidToken is returned for a token that is unknown, malformed,
// expired or does not match.
var ErrInvalidToken = errors.New("invalid or expired session token")

// Sessions stores login sessions. A token is "<id>.<secret>": the id finds
// the row, and only a SHA-256 of the secret is stored and compared in
// constant time, so a database leak yields no usable token.
//
// Lookups may be cached in memory (CacheLookups): every request
// authenticates, and the SQL join per request was the largest single cost
// of the busiest endpoints. A cached session is still checked against its
// secret hash in constant time and against its expiry; logging out, and a
// user changed or removed through this process (ForgetUser), take effect
// at once; a change made by another server of the deployment takes effect
// here within the cache period.
type Sessions struct {
	db  *tsql.DB
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	cacheFor time.Duration            // zero: no cache
	cache    map[string]cachedSession // by session id; guarded by mu
}

type cachedSession struct {
	secretHash string
	expiresAt  time.Time
	principal  Principal
	until      time.Time // the entry is trusted until then
}

// maxCachedSessions bounds the cache; past it the cache starts afresh.
const maxCachedSessions = 100_000

// NewSessions returns a session store whose sessions last ttl.
func NewSessions(db *tsql.DB, ttl time.Duration, now func() time.Time) *Sessions {
	if now == nil {
		now = time.Now
	}
	return &Sessions{db: db, ttl: ttl, now: now}
}

// DefaultSessionCache is how long serve trusts a checked session from
// memory unless told otherwise (--session-cache).
const DefaultSessionCache = 2 * time.Second

// CacheLookups keeps looked-up sessions in memory for d (zero: off).
func (s *Sessions) CacheLookups(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cacheFor, s.cache = d, nil
}

// CachePeriod is how long a looked-up session is trusted from memory (zero:
// not at all).
func (s *Sessions) CachePeriod() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cacheFor
}

// ForgetUser drops the cached sessions of username, after a change to the
// user (role, agency, permissions, password) or their removal.
func (s *Sessions) ForgetUser(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.cache {
		if c.principal.Username == username {
			delete(s.cache, id)
		}
	}
}

func (s *Sessions) cached(id string, now time.Time) (cachedSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[id]
	if !ok || !now.Before(c.until) {
		return cachedSession{}, false
	}
	return c, true
}

func (s *Sessions) remember(id string, c cachedSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cacheFor <= 0 {
		return
	}
	if s.cache == nil || len(s.cache) >= maxCachedSessions {
		s.cache = make(map[string]cachedSession)
	}
	c.until = s.now().Add(s.cacheFor)
	s.cache[id] = c
}

func (s *Sessions) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, id)
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Create starts a session for username and returns its token and expiry.
func (s *Sessions) Create(ctx context.Context, username, clientAddr string) (string, time.Time, error) {
	id, err := randomString(12)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	secret, err := randomString(32)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	exp := now.Add(s.ttl)
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO sessions (id, secret_hash, username, client_addr, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`), id, hashSecret(secret), username, clientAddr, now, exp)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session for %s: %w", username, err)
	}
	return id + "." + secret, exp, nil
}

// Lookup returns the principal a token belongs to.
func (s *Sessions) Lookup(ctx context.Context, token string) (Principal, error) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || id == "" || secret == "" || len(token) > 200 {
		return Principal{}, ErrInvalidToken
	}
	if c, ok := s.cached(id, s.now()); ok {
		return c.check(secret, s.now())
	}
	var row sessionRow
	err := s.db.GetContext(ctx, &row, s.db.Rebind(`SELECT `+sessionColumns+`
		FROM sessions s JOIN users u ON u.username = s.username WHERE s.id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up session: %w", err)
	}
	c := cachedSession{secretHash: row.SecretHash, expiresAt: row.ExpiresAt, principal: row.principal()}
	p, err := c.check(secret, s.now())
	if err == nil {
		// Only sessions that proved their secret. The id is cloned: it is
		// a piece of the request's headers, which it would keep alive.
		s.remember(strings.Clone(id), c)
	}
	return p, err
}

// sessionColumns are what sessionRow reads, from sessions s joined with
// users u.
const sessionColumns = `s.id, s.secret_hash, s.expires_at, u.username, u.name, u.role, u.agency_id, u.pii, u.can_export`

type sessionRow struct {
	ID         string         `db:"id"`
	SecretHash string         `db:"secret_hash"`
	ExpiresAt  time.Time      `db:"expires_at"`
	Username   string         `db:"username"`
	Name       string         `db:"name"`
	Role       string         `db:"role"`
	Agency     sql.NullString `db:"agency_id"`
	PII        bool           `db:"pii"`
	Export     bool           `db:"can_export"`
}

func (r sessionRow) principal() Principal {
	return Principal{Username: r.Username, Name: r.Name, Role: r.Role, Agency: r.Agency.String, PII: r.PII,
		Export: r.Export, SessionID: r.ID, ExpiresAt: r.ExpiresAt}
}

// sessionsPerQuery bounds the ids of one Current query, well below the
// bound parameters both backends take (32,766 for SQLite, 65,535 for
// PostgreSQL).
const sessionsPerQuery = 5000

// Current reads the given sessions from the database, past the cache, and
// returns the principal of each one that still exists and has not
// expired, by session id; the others are left out. Open WebSockets are
// re-checked with it, so that a logout or a user change made through
// another server reaches them too; it costs one query per
// sessionsPerQuery ids, not one per session.
func (s *Sessions) Current(ctx context.Context, ids []string) (map[string]Principal, error) {
	out := make(map[string]Principal, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), sessionsPerQuery)]
		ids = ids[len(batch):]
		q, args, err := sqlx.In(`SELECT `+sessionColumns+`
			FROM sessions s JOIN users u ON u.username = s.username WHERE s.id IN (?)`, batch)
		if err != nil {
			return nil, fmt.Errorf("check sessions: %w", err)
		}
		var rows []sessionRow
		if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("check sessions: %w", err)
		}
		// Expiry is compared here, as Lookup does, on the store's clock.
		now := s.now()
		for _, r := range rows {
			if now.Before(r.ExpiresAt) {
				out[r.ID] = r.principal()
			}
		}
	}
	return out, nil
}

// Unchanged reports whether every one of ids (distinct session ids) is
// still a session that exists, has not expired, and whose user has
// exactly grant's role, agency and pii and export permissions. It asks
// for one count per sessionsPerQuery ids and reads no rows: open
// WebSockets are re-checked every few seconds, and almost always nothing
// has changed, so the hub asks this per group of sockets with the same
// grant, and Current only for a group where something did.
func (s *Sessions) Unchanged(ctx context.Context, grant Principal, ids []string) (bool, error) {
	now := s.now().UTC()
	for len(ids) > 0 {
		batch := ids[:min(len(ids), sessionsPerQuery)]
		ids = ids[len(batch):]
		q, args, err := sqlx.In(`SELECT count(*) FROM sessions s JOIN users u ON u.username = s.username
			WHERE s.id IN (?) AND s.expires_at > ?
			AND u.role = ? AND COALESCE(u.agency_id, '') = ? AND u.pii = ? AND u.can_export = ?`,
			batch, now, grant.Role, grant.Agency, grant.PII, grant.Export)
		if err != nil {
			return false, fmt.Errorf("check sessions: %w", err)
		}
		var n int
		if err := s.db.GetContext(ctx, &n, s.db.Rebind(q), args...); err != nil {
			return false, fmt.Errorf("check sessions: %w", err)
		}
		if n != len(batch) {
			return false, nil
		}
	}
	return true, nil
}

// check compares the secret in constant time and the expiry.
func (c cachedSession) check(secret string, now time.Time) (Principal, error) {
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(c.secretHash)) != 1 {
		return Principal{}, ErrInvalidToken
	}
	if !now.Before(c.expiresAt) {
		return Principal{}, ErrInvalidToken
	}
	return c.principal, nil
}

// Delete ends one session.
func (s *Sessions) Delete(ctx context.Context, sessionID string) error {
	s.forget(sessionID)
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM sessions WHERE id = ?`), sessionID); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Purge removes expired sessions and returns how many.
func (s *Sessions) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM sessions WHERE expires_at <= ?`), s.now().UTC())
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return res.RowsAffected()
}

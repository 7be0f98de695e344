// Package lease decides which of the servers sharing one PostgreSQL
// database routes: the leader holds a one-row lease (node id, advertised
// address, epoch, expiry on the database's clock) and renews it; the
// others are standbys that take it, with the next epoch, only once it
// has expired. Every journal commit of a leader checks its term in the
// commit itself — Term.FenceQuery inside the batch's one statement, or
// Term.Fence in its transaction — so a deposed leader (paused,
// partitioned, slow) can never commit anything again.
package lease

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	tsql "tellonce/sql"
)

// ErrDeposed is a commit refused because this node no longer holds the
// lease it led with.
var ErrDeposed = errors.New("this node no longer holds the leader's lease")

// Defaults for Config.
const (
	DefaultRenew = time.Second
	DefaultTTL   = 5 * time.Second
)

// Roles a node reports.
const (
	RoleLeader  = "leader"
	RoleStandby = "standby"
)

// Config is one node's identity and timing.
type Config struct {
	// NodeID names the node; two live processes may not share one.
	NodeID string
	// Address is where the other nodes reach this one (host:port).
	Address string
	// Renew is how often the leader renews, and a standby looks.
	Renew time.Duration
	// TTL is how long a lease lasts after its last renewal. A leader that
	// has not renewed for TTL-Renew steps down, before it can run out.
	TTL time.Duration
	// SchemaVersion is the schema this binary knows; a node leads only a
	// database of exactly this version.
	SchemaVersion int
	Log           *slog.Logger
	// Registry receives the lease's metrics (nil: none).
	Registry prometheus.Registerer
}

// Check names the first bad field of c.
func (c Config) Check() error {
	switch {
	case c.NodeID == "":
		return errors.New("--node-id: must not be empty")
	case len(c.NodeID) > 200:
		return errors.New("--node-id: at most 200 characters")
	case c.Address == "":
		return errors.New("--advertise: must not be empty")
	case c.Renew < 50*time.Millisecond || c.Renew > time.Minute:
		return fmt.Errorf("--lease-renew %s: want 50ms to 1m", c.Renew)
	case c.TTL < 3*c.Renew || c.TTL > 10*time.Minute:
		return fmt.Errorf("--lease-ttl %s: want at least three renewals (%s) and at most 10m", c.TTL, 3*c.Renew)
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("--advertise %q: want host:port", c.Address)
	}
	return nil
}

// Status is what a node knows of the leadership.
type Status struct {
	Role string `json:"role"`
	// Leader is the leader's advertised address ("" when none is live).
	Leader string `json:"leader"`
	Epoch  int64  `json:"epoch"`
	// Expires is when a standby expects the leader's lease to run out if
	// it is not renewed (this node's clock, from the database's as last
	// read; zero when none is known): when to look again for a leader
	// that does not answer.
	Expires time.Time `json:"-"`
}

// Term is one node's time as leader.
type Term struct {
	Epoch int64
	e     *Elector
}

// Fence fails with ErrDeposed unless this term's lease is still current
// and unexpired, and holds the lease row until tx ends, so that no
// takeover can slip in before tx commits. Call it inside every
// transaction that commits the router's events.
//
// The hold is FOR KEY SHARE: it blocks a takeover, which locks the row
// FOR UPDATE first, but not the leader's own renewals (a plain UPDATE of
// no key column), so a leader committing back to back still renews on
// time instead of queueing behind its own commits until it must step
// down.
func (t Term) Fence(ctx context.Context, tx *sqlx.Tx) error {
	var epoch int64
	var node, timeout string
	var live bool
	// The row lock would outlive a leader paused (SIGSTOP) mid-commit and
	// block every takeover: the database ends a transaction left idle for
	// one renewal, and with it the lock (and the commit, unacknowledged).
	err := tx.QueryRowxContext(ctx,
		`SELECT set_config('idle_in_transaction_session_timeout', $1, true), epoch, node_id, expires_at > clock_timestamp()
		FROM leader_lease WHERE id = 1 FOR KEY SHARE`, strconv.FormatInt(ms(t.e.cfg.Renew), 10)).Scan(&timeout, &epoch, &node, &live)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: the lease row is gone", ErrDeposed)
		}
		return fmt.Errorf("check the lease: %w", err)
	}
	if epoch != t.Epoch || node != t.e.cfg.NodeID || !live {
		t.e.metrics.fenced.Inc()
		return fmt.Errorf("%w: epoch %d (node %s, live %v), this term's %d", ErrDeposed, epoch, node, live, t.Epoch)
	}
	return nil
}

// FenceQuery is Fence folded into a statement of the caller's: a SELECT
// that yields one row while this term's lease is current and unexpired,
// none otherwise, holding the lease row FOR KEY SHARE as Fence does. Its
// parameters are numbered from $first. A commit that writes its rows only
// when this query yields one (WHERE EXISTS) needs no transaction of its
// own around the check: check and rows are one statement, committed on
// its own, one round trip. Nothing is left idle in a transaction, so the
// idle timeout Fence sets is not needed. When it yields none, Fence in a
// transaction of its own says why (and counts the refusal).
func (t Term) FenceQuery(first int) (query string, args []any) {
	return fmt.Sprintf(`SELECT 1 FROM leader_lease WHERE id = 1 AND epoch = $%d AND node_id = $%d
		AND expires_at > clock_timestamp() FOR KEY SHARE`, first, first+1), []any{t.Epoch, t.e.cfg.NodeID}
}

// Elector runs one node's part in the election: see Run.
type Elector struct {
	db       *tsql.DB
	cfg      Config
	log      *slog.Logger
	instance string
	metrics  *metrics

	mu     sync.Mutex
	status Status
	peers  map[string]bool // hosts of the other nodes' advertised addresses
	// maxEpoch is the highest epoch this node has seen: a lease row that
	// goes below it was edited by hand and is not believed.
	maxEpoch int64
	warned   string // the last refusal logged, so it is logged once
}

// New makes an elector for db (PostgreSQL).
func New(db *tsql.DB, cfg Config) (*Elector, error) {
	if db.Dialect != tsql.Postgres {
		return nil, errors.New("lease: only PostgreSQL is shared by several servers")
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("lease: instance id: %w", err)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Elector{db: db, cfg: cfg, log: cfg.Log, instance: hex.EncodeToString(b[:]), metrics: m,
		status: Status{Role: RoleStandby}, peers: map[string]bool{}}, nil
}

// Status is the node's role, the leader's address and the epoch.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// IsPeer reports whether ip is the host of another node's advertised
// address: the only callers whose forwarded client address is believed.
func (e *Elector) IsPeer(ip string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peers[ip]
}

func (e *Elector) setStatus(s Status) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status = s
	e.metrics.epoch.Set(float64(s.Epoch))
	if s.Role == RoleLeader {
		e.metrics.leader.Set(1)
	} else {
		e.metrics.leader.Set(0)
	}
}

// ms is d in whole milliseconds, for the database's clock arithmetic.
func ms(d time.Duration) int64 { return d.Milliseconds() }

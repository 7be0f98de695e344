package directory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/directory"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// clock is the store's clock in these tests. It stands still until moved,
// and its time is in a zone other than UTC and finer than a microsecond,
// so the store has to normalise what it keeps.
type clock struct{ *clocktest.Clock }

func newClock() *clock {
	return &clock{clocktest.New(time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("KST", 9*3600)))}
}

// Stamp is what the store keeps of the clock's time: UTC, to the
// microsecond.
func (c *clock) Stamp() time.Time { return c.Now().UTC().Truncate(time.Microsecond) }

// env is one backend's store with its clock.
type env struct {
	backend string // sqlite or postgres
	ctx     context.Context
	db      *tsql.DB // the store's connections
	s       *directory.Store
	clock   *clock
}

// newEnv opens a store over b. On PostgreSQL its connections use a session
// time zone other than UTC, as those of a server installed in Seoul do:
// what the store returns must not depend on it.
func newEnv(t *testing.T, b sqltest.Backend) *env {
	t.Helper()
	db := b.DB
	if b.Name == "postgres" {
		u, err := url.Parse(b.DSN)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("timezone", "Asia/Seoul")
		q.Set("application_name", appName)
		u.RawQuery = q.Encode()
		if db, err = tsql.Open(context.Background(), u.String()); err != nil {
			t.Fatalf("open postgres in Asia/Seoul: %v", err)
		}
		t.Cleanup(func() { db.Close() })
	}
	c := newClock()
	return &env{backend: b.Name, ctx: context.Background(), db: db, s: directory.NewStore(db, c.Now), clock: c}
}

func (e *env) agency(t *testing.T, id string) directory.Agency {
	t.Helper()
	a, err := e.s.CreateAgency(e.ctx, directory.AgencyCreate{ID: id, Name: "Agency " + id})
	if err != nil {
		t.Fatalf("CreateAgency(%s): %v", id, err)
	}
	return a
}

func (e *env) queue(t *testing.T, agency, slug string, set ...func(*directory.QueueSettings)) directory.Queue {
	t.Helper()
	r := directory.QueueCreate{ID: slug, QueueSettings: directory.QueueSettings{Name: new("Queue " + slug)}}
	for _, f := range set {
		f(&r.QueueSettings)
	}
	q, err := e.s.CreateQueue(e.ctx, agency, r)
	if err != nil {
		t.Fatalf("CreateQueue(%s, %s): %v", agency, slug, err)
	}
	return q
}

// user creates a user whose password hash is "hash-of-<username>".
func (e *env) user(t *testing.T, r directory.UserCreate) directory.User {
	t.Helper()
	if r.Name == "" {
		r.Name = "User " + r.Username
	}
	if r.Password == "" {
		r.Password = "correct horse battery"
	}
	u, err := e.s.CreateUser(e.ctx, r, "hash-of-"+r.Username)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", r.Username, err)
	}
	return u
}

// appName names the store's PostgreSQL connections, to find them among
// the server's.
var appName = fmt.Sprintf("directory-test-%d", os.Getpid())

// waitForLockWaits waits until n of the store's PostgreSQL connections
// wait for a lock.
func (e *env) waitForLockWaits(t *testing.T, n int) {
	t.Helper()
	clocktest.EventuallyNil(t, "the store's connections waiting for a lock", 10*time.Second, func() error {
		var waiting int
		if err := e.db.GetContext(e.ctx, &waiting, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, appName); err != nil {
			t.Fatal(err)
		}
		if waiting != n {
			return fmt.Errorf("%d, want %d", waiting, n)
		}
		return nil
	})
}

// dump returns every row of the tables, in a stable order, to compare the
// database before and after a request that must change nothing.
func (e *env) dump(t *testing.T, tables ...string) string {
	t.Helper()
	var sb strings.Builder
	for _, table := range tables {
		rows, err := e.db.QueryxContext(e.ctx, `SELECT * FROM `+table+` ORDER BY 1, 2`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for rows.Next() {
			row := map[string]any{}
			if err := rows.MapScan(row); err != nil {
				rows.Close()
				t.Fatalf("dump %s: %v", table, err)
			}
			fmt.Fprintf(&sb, "%s %v\n", table, row)
		}
		if err := rows.Close(); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
	}
	return sb.String()
}

// directoryTables are every table the directory writes (sessions go with
// their user).
var directoryTables = []string{"agencies", "queues", "queue_overflow", "users", "user_queues", "sessions"}

// wantInvalid fails unless err is a *directory.ValidationError naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ve *directory.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T); want a *directory.ValidationError naming %q", err, err, field)
	}
	if ve.Field != field {
		t.Fatalf("error = %q names field %q; want %q", ve, ve.Field, field)
	}
	if ve.Message == "" || ve.Error() != field+": "+ve.Message {
		t.Fatalf("error naming %q reads %q, with the message %q", field, ve.Error(), ve.Message)
	}
}

// wantConflict fails unless err is a *directory.ConflictError, which is
// also an ErrConflict, and its message holds every one of parts.
func wantConflict(t *testing.T, err error, parts ...string) {
	t.Helper()
	var ce *directory.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, directory.ErrConflict) {
		t.Fatalf("error = %v (%T); want a *directory.ConflictError", err, err)
	}
	if err.Error() != ce.Message {
		t.Errorf("conflict reads %q; want its message %q", err.Error(), ce.Message)
	}
	for _, p := range parts {
		if !strings.Contains(ce.Message, p) {
			t.Errorf("conflict %q does not name %q", ce.Message, p)
		}
	}
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("error = %v; want directory.ErrNotFound", err)
	}
}

// wantSame fails unless got and want are deeply equal.
func wantSame(t *testing.T, what string, got, want any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) == string(w) {
		t.Fatalf("%s =\n\t%#v\nwant\n\t%#v\n(the same in JSON)", what, got, want)
	}
	t.Fatalf("%s =\n\t%s\nwant\n\t%s", what, g, w)
}

func (e *env) deleteQueue(t *testing.T, id string) {
	t.Helper()
	if err := e.s.DeleteQueue(e.ctx, id, nil); err != nil {
		t.Fatalf("DeleteQueue(%s): %v", id, err)
	}
}

func (e *env) deleteUser(t *testing.T, username string) {
	t.Helper()
	if err := e.s.DeleteUser(e.ctx, username, nil); err != nil {
		t.Fatalf("DeleteUser(%s): %v", username, err)
	}
}

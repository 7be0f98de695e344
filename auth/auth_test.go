package auth_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"tellonce/auth"
	"tellonce/clocktest"
	"tellonce/directory"
	"tellonce/sql/sqltest"
)

var cheap = auth.Hasher{Time: 1, Memory: 64, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := cheap.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("Hash() = %q; want a PHC argon2id string with the hasher's parameters", h)
	}
	h2, _ := cheap.Hash("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal; want a fresh salt each time")
	}
	tests := []struct {
		password string
		want     bool
	}{
		{"correct horse battery", true},
		{"correct horse batter", false},
		{"", false},
	}
	for _, tt := range tests {
		got, err := auth.Verify(tt.password, h)
		if err != nil || got != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v, nil", tt.password, got, err, tt.want)
		}
	}
}

func TestVerifyRejectsUnreadableHashes(t *testing.T) {
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
	} {
		if ok, err := auth.Verify("x", bad); ok || !errors.Is(err, auth.ErrBadHash) {
			t.Errorf("Verify(x, %q) = %v, %v; want false, ErrBadHash", bad, ok, err)
		}
	}
}

func TestSessions(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		c := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		dir := directory.NewStore(b.DB, c.Now)
		if _, err := dir.CreateAgency(ctx, directory.AgencyCreate{ID: "gov110", Name: "110"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.CreateUser(ctx, directory.UserCreate{Username: "kim", Name: "김", Password: "long enough pw", Role: "agent", Agency: "gov110"}, "h"); err != nil {
			t.Fatal(err)
		}
		s := auth.NewSessions(b.DB, time.Hour, c.Now)
		token, exp, err := s.Create(ctx, "kim", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if !exp.Equal(c.Now().Add(time.Hour)) {
			t.Errorf("expiry = %v; want %v", exp, c.Now().Add(time.Hour))
		}
		p, err := s.Lookup(ctx, token)
		if err != nil {
			t.Fatalf("Lookup(fresh token) = %v", err)
		}
		if p.Username != "kim" || p.Role != "agent" || p.Agency != "gov110" {
			t.Errorf("Lookup() = %+v; want kim, agent of gov110", p)
		}
		id, secret, _ := strings.Cut(token, ".")
		for name, tok := range map[string]string{
			"wrong secret": id + "." + secret[:len(secret)-1] + "x",
			"no secret":    id + ".",
			"no dot":       id,
			"unknown id":   "nope." + secret,
			"empty":        "",
		} {
			if _, err := s.Lookup(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("Lookup(%s) = %v; want ErrInvalidToken", name, err)
			}
		}
		var stored string
		if err := b.DB.GetContext(ctx, &stored, b.DB.Rebind(`SELECT secret_hash FROM sessions WHERE id = ?`), id); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, secret) || stored == secret {
			t.Error("the session secret is stored in clear; want only its hash")
		}

		c.Advance(time.Hour)
		if _, err := s.Lookup(ctx, token); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Lookup(expired) = %v; want ErrInvalidToken", err)
		}
		n, err := s.Purge(ctx)
		if err != nil || n != 1 {
			t.Errorf("Purge() = %d, %v; want 1, nil", n, err)
		}

		token, _, _ = s.Create(ctx, "kim", "127.0.0.1")
		p, _ = s.Lookup(ctx, token)
		if err := s.Delete(ctx, p.SessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, token); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Lookup(after Delete) = %v; want ErrInvalidToken", err)
		}
	})
}

// A cached session still proves its secret and expiry; a logout and a
// forgotten user take effect at once; a change made behind the cache's
// back (another server) takes effect when the entry runs out.
func TestSessionCache(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		c := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		dir := directory.NewStore(b.DB, c.Now)
		if _, err := dir.CreateAgency(ctx, directory.AgencyCreate{ID: "gov110", Name: "110"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.CreateUser(ctx, directory.UserCreate{Username: "kim", Name: "김", Password: "long enough pw", Role: "agent", Agency: "gov110"}, "h"); err != nil {
			t.Fatal(err)
		}
		s := auth.NewSessions(b.DB, time.Hour, c.Now)
		s.CacheLookups(2 * time.Second)
		token, _, err := s.Create(ctx, "kim", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, token); err != nil {
			t.Fatal(err)
		}
		// Behind the cache's back, as another server would.
		if _, err := b.DB.ExecContext(ctx, `DELETE FROM sessions`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, token); err != nil {
			t.Errorf("Lookup(cached) = %v; want the cached session", err)
		}
		id, secret, _ := strings.Cut(token, ".")
		if _, err := s.Lookup(ctx, id+"."+secret[:len(secret)-1]+"x"); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Lookup(cached id, wrong secret) = %v; want ErrInvalidToken", err)
		}
		c.Advance(2 * time.Second)
		if _, err := s.Lookup(ctx, token); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Lookup(after the cache period, row gone) = %v; want ErrInvalidToken", err)
		}

		for name, end := range map[string]func(p auth.Principal){
			"logout": func(p auth.Principal) { _ = s.Delete(ctx, p.SessionID) },
			"forget user": func(auth.Principal) {
				// The directory removed the user's sessions in its own
				// transaction; the web layer then forgets the user.
				if _, err := b.DB.ExecContext(ctx, `DELETE FROM sessions`); err != nil {
					t.Fatal(err)
				}
				s.ForgetUser("kim")
			},
		} {
			token, _, err := s.Create(ctx, "kim", "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Lookup(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			end(p)
			if _, err := s.Lookup(ctx, token); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("Lookup(after %s) = %v; want ErrInvalidToken at once", name, err)
			}
		}

		token, _, _ = s.Create(ctx, "kim", "127.0.0.1")
		if _, err := s.Lookup(ctx, token); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Hour)
		if _, err := s.Lookup(ctx, token); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Lookup(cached but expired) = %v; want ErrInvalidToken", err)
		}
	})
}

// Current reads sessions back past the cache, in one query for many ids:
// a session that was deleted or has expired is left out, and a user
// changed behind the cache's back shows as they are now.
func TestSessionsCurrent(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		c := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		dir := directory.NewStore(b.DB, c.Now)
		if _, err := dir.CreateAgency(ctx, directory.AgencyCreate{ID: "gov110", Name: "110"}); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"kim", "lee"} {
			if _, err := dir.CreateUser(ctx, directory.UserCreate{Username: u, Name: u, Password: "long enough pw", Role: "agent", Agency: "gov110"}, "h"); err != nil {
				t.Fatal(err)
			}
		}
		s := auth.NewSessions(b.DB, time.Hour, c.Now)
		s.CacheLookups(time.Minute)
		login := func(username string) auth.Principal {
			t.Helper()
			token, exp, err := s.Create(ctx, username, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Lookup(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if !p.ExpiresAt.Equal(exp) {
				t.Errorf("Lookup().ExpiresAt = %v; want the session's expiry %v", p.ExpiresAt, exp)
			}
			return p
		}
		early := login("kim")
		c.Advance(30 * time.Minute)
		kim, lee, gone := login("kim"), login("lee"), login("lee")
		if err := s.Delete(ctx, gone.SessionID); err != nil {
			t.Fatal(err)
		}
		// Behind the cache's back, as another server would.
		if _, err := b.DB.ExecContext(ctx, b.DB.Rebind(`UPDATE users SET role = ?, pii = ?, can_export = ? WHERE username = ?`), "supervisor", true, true, "lee"); err != nil {
			t.Fatal(err)
		}
		c.Advance(30 * time.Minute) // early has just expired

		// More ids than one query takes, most of them unknown.
		ids := []string{}
		for i := range 2*5000 + 1 {
			ids = append(ids, "unknown-"+strconv.Itoa(i))
		}
		ids = append(ids, early.SessionID, kim.SessionID, lee.SessionID, gone.SessionID)
		got, err := s.Current(ctx, ids)
		if err != nil {
			t.Fatalf("Current() = %v", err)
		}
		if len(got) != 2 {
			t.Errorf("Current() = %d sessions %v; want kim's and lee's live ones only", len(got), got)
		}
		if p := got[kim.SessionID]; !samePrincipal(p, kim) {
			t.Errorf("Current()[kim] = %+v; want %+v", p, kim)
		}
		wantLee := lee
		wantLee.Role, wantLee.PII, wantLee.Export = "supervisor", true, true
		if p := got[lee.SessionID]; !samePrincipal(p, wantLee) {
			t.Errorf("Current()[lee] = %+v; want lee as changed: %+v", p, wantLee)
		}
		if got, err := s.Current(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("Current(nil) = %v, %v; want none", got, err)
		}
	})
}

// Unchanged answers, in one count per batch of ids and past the cache,
// whether every session still holds exactly the grant: any session
// deleted or expired, or any of role, agency, pii and export changed
// behind the cache's back, makes it false; a user's name does not.
func TestSessionsUnchanged(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		c := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		dir := directory.NewStore(b.DB, c.Now)
		for _, a := range []string{"gov110", "nts126"} {
			if _, err := dir.CreateAgency(ctx, directory.AgencyCreate{ID: a, Name: a}); err != nil {
				t.Fatal(err)
			}
		}
		users := []directory.UserCreate{{Username: "admin", Role: "admin"}, {Username: "kim", Role: "agent", Agency: "gov110"}}
		for i := range 6 {
			users = append(users, directory.UserCreate{Username: "agent" + strconv.Itoa(i), Role: "agent", Agency: "gov110"})
		}
		for _, u := range users {
			u.Name, u.Password = u.Username, "long enough pw"
			if _, err := dir.CreateUser(ctx, u, "h"); err != nil {
				t.Fatal(err)
			}
		}
		s := auth.NewSessions(b.DB, time.Hour, c.Now)
		s.CacheLookups(time.Hour)
		login := func(username string) string {
			t.Helper()
			token, _, err := s.Create(ctx, username, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Lookup(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			return p.SessionID
		}
		agent := auth.Principal{Role: "agent", Agency: "gov110"}
		unchanged := func(grant auth.Principal, ids ...string) bool {
			t.Helper()
			ok, err := s.Unchanged(ctx, grant, ids)
			if err != nil {
				t.Fatalf("Unchanged() = %v", err)
			}
			return ok
		}
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := b.DB.ExecContext(ctx, b.DB.Rebind(q), args...); err != nil {
				t.Fatal(err)
			}
		}

		admin := login("admin")
		if !unchanged(auth.Principal{Role: "admin"}, admin) {
			t.Error("an admin's session, no agency: want unchanged")
		}
		early := login("kim")
		c.Advance(30 * time.Minute)
		kim := login("kim")
		var ids []string
		for i := range 6 {
			ids = append(ids, login("agent"+strconv.Itoa(i)))
		}
		if !unchanged(agent, append([]string{early, kim}, ids...)...) {
			t.Fatal("nothing changed: want unchanged")
		}
		if unchanged(agent, kim, "unknown") {
			t.Error("an unknown session: want changed")
		}
		if !unchanged(agent) {
			t.Error("no sessions: want unchanged")
		}
		many := []string{}
		for i := range 2 * 5000 {
			many = append(many, "unknown-"+strconv.Itoa(i))
		}
		if unchanged(agent, append([]string{kim}, many...)...) {
			t.Error("more ids than one query takes, most unknown: want changed")
		}
		exec(`UPDATE users SET name = ? WHERE username = ?`, "Kim Minji", "kim")
		if !unchanged(agent, kim) {
			t.Error("a new name: want unchanged")
		}

		c.Advance(30 * time.Minute) // early has just expired
		if unchanged(agent, early) || !unchanged(agent, kim) {
			t.Error("want an expired session changed, the other one not")
		}
		// Behind the cache's back, as another server would; one change to
		// each of the first five, the sixth's session ended.
		exec(`UPDATE users SET role = ? WHERE username = ?`, "supervisor", "agent0")
		exec(`UPDATE users SET agency_id = ? WHERE username = ?`, "nts126", "agent1")
		exec(`UPDATE users SET agency_id = NULL WHERE username = ?`, "agent2")
		exec(`UPDATE users SET pii = ? WHERE username = ?`, true, "agent3")
		exec(`UPDATE users SET can_export = ? WHERE username = ?`, true, "agent4")
		if err := s.Delete(ctx, ids[5]); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if unchanged(agent, kim, id) {
				t.Errorf("agent%d changed: want changed", i)
			}
		}
		if !unchanged(auth.Principal{Role: "agent", Agency: "gov110", PII: true}, ids[3]) {
			t.Error("agent3 as they are now: want unchanged")
		}
	})
}

// samePrincipal compares principals, their expiry as an instant.
func samePrincipal(a, b auth.Principal) bool {
	same := a.ExpiresAt.Equal(b.ExpiresAt)
	a.ExpiresAt, b.ExpiresAt = time.Time{}, time.Time{}
	return same && a == b
}

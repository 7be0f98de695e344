package directory_test

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// newUserRequest is a valid request for an agent of gov110.
func newUserRequest(username string) directory.UserCreate {
	return directory.UserCreate{
		Username: username, Name: "New user", Password: "correct horse",
		Role: directory.RoleAgent, Agency: "gov110",
		Skills: map[string]int{"lang:ko": 3},
		Queues: []directory.Membership{{Queue: "gov110.general", Level: 2}},
	}
}

// memberships returns a membership of each queue, at level 1.
func memberships(queues ...string) []directory.Membership {
	ms := make([]directory.Membership, len(queues))
	for i, q := range queues {
		ms[i] = directory.Membership{Queue: q, Level: 1}
	}
	return ms
}

// manyQueues returns the ids gov110.m00 to m<n-1>, which do not exist.
func manyQueues(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("gov110.m%02d", i)
	}
	return ids
}

// badPasswords are passwords the policy refuses.
var badPasswords = []struct {
	name     string
	password string
}{
	{"empty password", ""},
	{"password of 9 characters", "123456789"},
	{"password of 9 characters in 27 bytes", strings.Repeat("가", 9)},
	{"password of 257 bytes", strings.Repeat("p", 257)},
	{"password of 86 characters in 258 bytes", strings.Repeat("가", 86)},
	{"password of invalid UTF-8", "secret \xff\xfe\xfd"},
}

var badNames = []struct {
	name  string
	value string
}{
	{"empty name", ""},
	{"blank name", "\t \n"},
	{"name of 101 characters", strings.Repeat("가", 101)},
	{"name of invalid UTF-8", "Kim \xff"},
}

// TestUsers goes through every rule of UserCreate and UserPatch, then a
// user's life: conflicts, what is not found, the last admin, the caller's
// checks, passwords, sessions and Credentials.
func TestUsers(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)
		kim := userRules(t, e)
		userLife(t, e, kim)
	})
}

// userRules: a refused request names its field and stores nothing; a
// request at the edge of a limit is stored as asked. It returns the agent
// kim of gov110, whom it leaves as created.
func userRules(t *testing.T, e *env) directory.User {
	e.agency(t, "gov110")
	e.agency(t, "dept2")
	e.queue(t, "gov110", "general")
	e.queue(t, "gov110", "tax")
	e.queue(t, "dept2", "general")
	kim := e.user(t, newUserRequest("kim"))
	seeded := map[string]directory.User{
		"kim":    kim,
		"root":   e.user(t, directory.UserCreate{Username: "root", Role: directory.RoleAdmin}),
		"gw-all": e.user(t, directory.UserCreate{Username: "gw-all", Role: directory.RoleGateway}),
	}
	tables := []string{"users", "user_queues"}
	before := e.dump(t, tables...)

	t.Run("create refused", func(t *testing.T) {
		type createCase struct {
			name  string
			set   func(r *directory.UserCreate)
			field string
		}
		cases := []createCase{
			{"role missing", func(r *directory.UserCreate) { r.Role = "" }, "role"},
			{"unknown role", func(r *directory.UserCreate) { r.Role = "root" }, "role"},
			{"capitalised role", func(r *directory.UserCreate) { r.Role = "Agent" }, "role"},
			{"agent without agency", func(r *directory.UserCreate) { r.Agency = "" }, "agency"},
			{"supervisor without agency", func(r *directory.UserCreate) { r.Role, r.Agency = "supervisor", "" }, "agency"},
			{"admin of an agency", func(r *directory.UserCreate) { r.Role = "admin" }, "agency"},
			{"malformed agency", func(r *directory.UserCreate) { r.Agency = "Gov110" }, "agency"},
			{"gateway of a malformed agency", func(r *directory.UserCreate) { r.Role, r.Agency = "gateway", "g" }, "agency"},
			{"agency that does not exist", func(r *directory.UserCreate) { r.Agency = "nowhere" }, "agency"},
			{"gateway of an agency that does not exist", func(r *directory.UserCreate) { r.Role, r.Agency = "gateway", "nowhere" }, "agency"},

			{"101 memberships", func(r *directory.UserCreate) {
				r.Queues = memberships(append(manyQueues(100), "gov110.general")...)
			}, "queues"},
			// 100 are within the limit: what refuses them is that the
			// queues gov110.m00 and on do not exist.
			{"100 memberships", func(r *directory.UserCreate) { r.Queues = memberships(manyQueues(100)...) }, "queues[0].queue"},
			{"membership of a bare slug", func(r *directory.UserCreate) { r.Queues = memberships("general") }, "queues[0].queue"},
			{"membership of nothing", func(r *directory.UserCreate) { r.Queues = memberships("") }, "queues[0].queue"},
			{"membership twice", func(r *directory.UserCreate) {
				r.Queues = memberships("gov110.general", "gov110.tax", "gov110.general")
			}, "queues[2].queue"},
			{"membership level 11", func(r *directory.UserCreate) {
				r.Queues = []directory.Membership{{Queue: "gov110.general", Level: 11}}
			}, "queues[0].level"},
			{"membership level -1", func(r *directory.UserCreate) {
				r.Queues = []directory.Membership{{Queue: "gov110.general", Level: 1}, {Queue: "gov110.tax", Level: -1}}
			}, "queues[1].level"},
			{"membership of a queue that does not exist", func(r *directory.UserCreate) {
				r.Queues = memberships("gov110.missing")
			}, "queues[0].queue"},
			{"second membership of a queue that does not exist", func(r *directory.UserCreate) {
				r.Queues = memberships("gov110.general", "dept2.missing")
			}, "queues[1].queue"},

			{"max_chats -1", func(r *directory.UserCreate) { r.MaxChats = new(-1) }, "max_chats"},
			{"max_chats 21", func(r *directory.UserCreate) { r.MaxChats = new(21) }, "max_chats"},
		}
		for _, u := range []string{"", "k", strings.Repeat("k", 65), "Kim", ".kim", "-kim", "_kim", "kim lee", "kim@gov", "kim/lee", "김철수"} {
			cases = append(cases, createCase{fmt.Sprintf("username %q", u), func(r *directory.UserCreate) { r.Username = u }, "username"})
		}
		for _, n := range badNames {
			cases = append(cases, createCase{n.name, func(r *directory.UserCreate) { r.Name = n.value }, "name"})
		}
		for _, p := range badPasswords {
			cases = append(cases, createCase{p.name, func(r *directory.UserCreate) { r.Password = p.password }, "password"})
		}
		for _, sk := range badSkills {
			cases = append(cases, createCase{"skills: " + sk.name, func(r *directory.UserCreate) { r.Skills = sk.skills }, "skills" + sk.field})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := newUserRequest("new")
				tc.set(&r)
				_, err := e.s.CreateUser(e.ctx, r, "hash")
				wantInvalid(t, err, tc.field)
				_, err = e.s.GetUser(e.ctx, r.Username)
				wantNotFound(t, err)
			})
		}
		if e.dump(t, tables...) != before {
			t.Error("refused creates changed the users")
		}
	})

	t.Run("patch refused", func(t *testing.T) {
		type patchCase struct {
			name     string
			username string
			patch    directory.UserPatch
			field    string
		}
		cases := []patchCase{
			{"unknown role", "kim", directory.UserPatch{Role: new("root")}, "role"},
			{"empty role", "kim", directory.UserPatch{Role: new("")}, "role"},
			// A user's agency is fixed, so a role that does not fit it
			// is the role's fault.
			{"agent to admin", "kim", directory.UserPatch{Role: new("admin")}, "role"},
			{"gateway of every agency to agent", "gw-all", directory.UserPatch{Role: new("agent")}, "role"},
			{"gateway of every agency to supervisor", "gw-all", directory.UserPatch{Role: new("supervisor")}, "role"},
			{"admin to agent", "root", directory.UserPatch{Role: new("agent")}, "role"},
			{"admin to supervisor", "root", directory.UserPatch{Role: new("supervisor")}, "role"},

			{"101 memberships", "kim", directory.UserPatch{Queues: new(memberships(append(manyQueues(100), "gov110.general")...))}, "queues"},
			{"100 memberships", "kim", directory.UserPatch{Queues: new(memberships(manyQueues(100)...))}, "queues[0].queue"},
			{"membership of a bare slug", "kim", directory.UserPatch{Queues: new(memberships("tax"))}, "queues[0].queue"},
			{"membership twice", "kim", directory.UserPatch{Queues: new(memberships("gov110.tax", "gov110.tax"))}, "queues[1].queue"},
			{"membership level 11", "kim", directory.UserPatch{Queues: &[]directory.Membership{{Queue: "gov110.tax", Level: 11}}}, "queues[0].level"},
			{"membership level -1", "kim", directory.UserPatch{Queues: &[]directory.Membership{{Queue: "gov110.tax", Level: -1}}}, "queues[0].level"},
			// The old memberships are deleted before the new ones are
			// written: a refusal must bring them back.
			{"membership of a queue that does not exist", "kim", directory.UserPatch{Queues: new(memberships("gov110.tax", "gov110.missing"))}, "queues[1].queue"},

			{"max_chats -1", "kim", directory.UserPatch{MaxChats: new(-1)}, "max_chats"},
			{"max_chats 21", "kim", directory.UserPatch{MaxChats: new(21)}, "max_chats"},
			{"a bad field refuses the good ones with it", "kim", directory.UserPatch{Name: new("Fine"), PII: new(true), MaxChats: new(99)}, "max_chats"},
		}
		for _, n := range badNames {
			cases = append(cases, patchCase{n.name, "kim", directory.UserPatch{Name: new(n.value)}, "name"})
		}
		for _, p := range badPasswords {
			cases = append(cases, patchCase{p.name, "kim", directory.UserPatch{Password: new(p.password)}, "password"})
		}
		for _, sk := range badSkills {
			cases = append(cases, patchCase{"skills: " + sk.name, "kim", directory.UserPatch{Skills: new(sk.skills)}, "skills" + sk.field})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.clock.Advance(time.Second)
				_, err := e.s.UpdateUser(e.ctx, tc.username, tc.patch, "new-hash", nil)
				wantInvalid(t, err, tc.field)
				read, err := e.s.GetUser(e.ctx, tc.username)
				if err != nil {
					t.Fatal(err)
				}
				wantSame(t, "user after a refused patch", read, seeded[tc.username])
			})
		}
		if e.dump(t, tables...) != before {
			t.Error("refused patches changed the users")
		}
	})

	t.Run("create accepted", func(t *testing.T) {
		type good struct {
			name string
			set  func(r *directory.UserCreate)
			want func(u *directory.User)
		}
		cases := []good{
			{"username of two characters", func(r *directory.UserCreate) { r.Username = "ab" }, nil},
			{"username of 64 characters", func(r *directory.UserCreate) { r.Username = strings.Repeat("u", 64) }, nil},
			{"username with every sign", func(r *directory.UserCreate) { r.Username = "kim.lee_2-x" }, nil},
			{"username starting with a digit", func(r *directory.UserCreate) { r.Username = "0day" }, nil},
			{"name of 100 characters", func(r *directory.UserCreate) { r.Name = strings.Repeat("가", 100) },
				func(u *directory.User) { u.Name = strings.Repeat("가", 100) }},
			{"name is trimmed", func(r *directory.UserCreate) { r.Name = "  Kim Lee\n" },
				func(u *directory.User) { u.Name = "Kim Lee" }},
			{"password of 10 characters", func(r *directory.UserCreate) { r.Password = "0123456789" }, nil},
			{"password of 10 characters in 30 bytes", func(r *directory.UserCreate) { r.Password = strings.Repeat("가", 10) }, nil},
			{"password of 256 bytes", func(r *directory.UserCreate) { r.Password = strings.Repeat("p", 256) }, nil},
			{"admin", func(r *directory.UserCreate) { r.Role, r.Agency, r.Queues = "admin", "", nil },
				func(u *directory.User) { u.Role, u.Agency, u.Queues = "admin", "", []directory.Membership{} }},
			{"supervisor", func(r *directory.UserCreate) { r.Role = "supervisor" },
				func(u *directory.User) { u.Role = "supervisor" }},
			{"gateway of every agency", func(r *directory.UserCreate) { r.Role, r.Agency = "gateway", "" },
				func(u *directory.User) { u.Role, u.Agency = "gateway", "" }},
			{"gateway of one agency", func(r *directory.UserCreate) { r.Role, r.Agency = "gateway", "dept2" },
				func(u *directory.User) { u.Role, u.Agency = "gateway", "dept2" }},
			{"no skills", func(r *directory.UserCreate) { r.Skills = nil },
				func(u *directory.User) { u.Skills = map[string]int{} }},
			{"no memberships", func(r *directory.UserCreate) { r.Queues = nil },
				func(u *directory.User) { u.Queues = []directory.Membership{} }},
			{"membership level defaults to 1", func(r *directory.UserCreate) { r.Queues = []directory.Membership{{Queue: "gov110.tax"}} },
				func(u *directory.User) { u.Queues = []directory.Membership{{Queue: "gov110.tax", Level: 1}} }},
			{"membership levels 1 and 10", func(r *directory.UserCreate) {
				r.Queues = []directory.Membership{{Queue: "gov110.general", Level: 1}, {Queue: "gov110.tax", Level: 10}}
			}, func(u *directory.User) {
				u.Queues = []directory.Membership{{Queue: "gov110.general", Level: 1}, {Queue: "gov110.tax", Level: 10}}
			}},
			// Which agencies' queues a user may join is the caller's rule.
			{"membership of another agency's queue", func(r *directory.UserCreate) { r.Queues = memberships("dept2.general") },
				func(u *directory.User) { u.Queues = memberships("dept2.general") }},
			{"max_chats 0", func(r *directory.UserCreate) { r.MaxChats = new(0) },
				func(u *directory.User) { u.MaxChats = 0 }},
			{"max_chats 20", func(r *directory.UserCreate) { r.MaxChats = new(20) },
				func(u *directory.User) { u.MaxChats = 20 }},
			{"pii", func(r *directory.UserCreate) { r.PII = true },
				func(u *directory.User) { u.PII = true }},
			{"export", func(r *directory.UserCreate) { r.Export = true },
				func(u *directory.User) { u.Export = true }},
			// A supervisor or admin created now starts without it, like anyone.
			{"supervisor without export", func(r *directory.UserCreate) { r.Role = "supervisor" },
				func(u *directory.User) { u.Role = "supervisor" }},
		}
		for _, sk := range goodSkills {
			cases = append(cases, good{"skills: " + sk.name, func(r *directory.UserCreate) { r.Skills = maps.Clone(sk.skills) },
				func(u *directory.User) { u.Skills = maps.Clone(sk.skills) }})
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := newUserRequest(fmt.Sprintf("ok%d", i))
				tc.set(&r)
				e.clock.Advance(time.Second)
				want := directory.User{
					Username: r.Username, Name: "New user", Role: "agent", Agency: "gov110",
					Skills: map[string]int{"lang:ko": 3}, Queues: []directory.Membership{{Queue: "gov110.general", Level: 2}},
					MaxChats: 3, CreatedAt: e.clock.Stamp(), UpdatedAt: e.clock.Stamp(),
				}
				if tc.want != nil {
					tc.want(&want)
				}
				hash := "hash-of-" + r.Username
				got, err := e.s.CreateUser(e.ctx, r, hash)
				if err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				wantSame(t, "CreateUser", got, want)
				read, err := e.s.GetUser(e.ctx, r.Username)
				if err != nil {
					t.Fatalf("GetUser: %v", err)
				}
				wantSame(t, "GetUser", read, want)
				cred, h, err := e.s.Credentials(e.ctx, r.Username)
				if err != nil {
					t.Fatalf("Credentials: %v", err)
				}
				wantSame(t, "Credentials", cred, want)
				if h != hash {
					t.Errorf("Credentials hash = %q; want %q", h, hash)
				}
			})
		}
	})

	t.Run("patch accepted", func(t *testing.T) {
		cases := []struct {
			name  string
			from  directory.UserCreate
			patch directory.UserPatch
			want  func(u *directory.User)
		}{
			{"nothing", newUserRequest(""), directory.UserPatch{}, func(*directory.User) {}},
			{"name of 100 characters", newUserRequest(""), directory.UserPatch{Name: new(strings.Repeat("가", 100))},
				func(u *directory.User) { u.Name = strings.Repeat("가", 100) }},
			{"name is trimmed", newUserRequest(""), directory.UserPatch{Name: new(" Kim ")},
				func(u *directory.User) { u.Name = "Kim" }},
			{"password alone", newUserRequest(""), directory.UserPatch{Password: new(strings.Repeat("가", 10))},
				func(*directory.User) {}},
			{"agent to supervisor", newUserRequest(""), directory.UserPatch{Role: new("supervisor")},
				func(u *directory.User) { u.Role = "supervisor" }},
			{"agent to gateway", newUserRequest(""), directory.UserPatch{Role: new("gateway")},
				func(u *directory.User) { u.Role = "gateway" }},
			{"gateway of every agency to admin", directory.UserCreate{Role: "gateway", Name: "New user"}, directory.UserPatch{Role: new("admin")},
				func(u *directory.User) {
					u.Role, u.Agency, u.Skills, u.Queues = "admin", "", map[string]int{}, []directory.Membership{}
				}},
			{"admin to gateway", directory.UserCreate{Role: "admin", Name: "New user"}, directory.UserPatch{Role: new("gateway")},
				func(u *directory.User) {
					u.Role, u.Agency, u.Skills, u.Queues = "gateway", "", map[string]int{}, []directory.Membership{}
				}},
			{"max_chats 0", newUserRequest(""), directory.UserPatch{MaxChats: new(0)},
				func(u *directory.User) { u.MaxChats = 0 }},
			{"max_chats 20", newUserRequest(""), directory.UserPatch{MaxChats: new(20)},
				func(u *directory.User) { u.MaxChats = 20 }},
			{"pii granted", newUserRequest(""), directory.UserPatch{PII: new(true)},
				func(u *directory.User) { u.PII = true }},
			{"export granted", newUserRequest(""), directory.UserPatch{Export: new(true)},
				func(u *directory.User) { u.Export = true }},
			{"export withdrawn", directory.UserCreate{Role: "supervisor", Agency: "gov110", Export: true}, directory.UserPatch{Export: new(false)},
				func(u *directory.User) { u.Export = false }},
			{"no memberships", newUserRequest(""), directory.UserPatch{Queues: &[]directory.Membership{}},
				func(u *directory.User) { u.Queues = []directory.Membership{} }},
			{"no skills", newUserRequest(""), directory.UserPatch{Skills: new(map[string]int(nil))},
				func(u *directory.User) { u.Skills = map[string]int{} }},
			{"everything", newUserRequest(""), directory.UserPatch{
				Name: new("All"), Password: new("0123456789"), Role: new("supervisor"), Skills: &map[string]int{"topic:tax": 7},
				Queues: &[]directory.Membership{{Queue: "gov110.tax"}}, MaxChats: new(1), PII: new(true), Export: new(true),
			}, func(u *directory.User) {
				u.Name, u.Role, u.Skills, u.Queues, u.MaxChats, u.PII, u.Export = "All", "supervisor", map[string]int{"topic:tax": 7},
					[]directory.Membership{{Queue: "gov110.tax", Level: 1}}, 1, true, true
			}},
		}
		for _, sk := range goodSkills {
			cases = append(cases, struct {
				name  string
				from  directory.UserCreate
				patch directory.UserPatch
				want  func(u *directory.User)
			}{"skills: " + sk.name, newUserRequest(""), directory.UserPatch{Skills: new(maps.Clone(sk.skills))},
				func(u *directory.User) { u.Skills = maps.Clone(sk.skills) }})
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := tc.from
				r.Username = fmt.Sprintf("p%d", i)
				u := e.user(t, r)
				e.clock.Advance(time.Second)
				want := u
				tc.want(&want)
				want.UpdatedAt = e.clock.Stamp()
				got, err := e.s.UpdateUser(e.ctx, u.Username, tc.patch, "", nil)
				if err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
				wantSame(t, "UpdateUser", got, want)
				read, err := e.s.GetUser(e.ctx, u.Username)
				if err != nil {
					t.Fatalf("GetUser: %v", err)
				}
				wantSame(t, "GetUser", read, want)
			})
		}
	})

	t.Run("kim untouched", func(t *testing.T) {
		read, err := e.s.GetUser(e.ctx, "kim")
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "kim", read, kim)
	})
	return kim
}

// cheap keeps the hashing in these tests fast.
var cheap = auth.Hasher{Time: 1, Memory: 64, Threads: 1}

// userLife runs after userRules, on the users it left.
func userLife(t *testing.T, e *env, kim directory.User) {

	session := func(t *testing.T, id, username string) {
		t.Helper()
		now := e.clock.Stamp()
		if _, err := e.db.ExecContext(e.ctx, e.db.Rebind(`INSERT INTO sessions (id, secret_hash, username, client_addr, created_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?)`), id, "secret-"+id, username, "192.0.2.1", now, now.Add(time.Hour)); err != nil {
			t.Fatalf("insert session: %v", err)
		}
	}
	sessions := func(t *testing.T, username string) int {
		t.Helper()
		var n int
		if err := e.db.GetContext(e.ctx, &n, e.db.Rebind(`SELECT COUNT(*) FROM sessions WHERE username = ?`), username); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("duplicate username", func(t *testing.T) {
		before := e.dump(t, directoryTables...)
		r := newUserRequest("kim")
		r.Name, r.Role, r.Agency, r.Queues, r.PII = "Impostor", "admin", "", memberships("gov110.tax"), true
		_, err := e.s.CreateUser(e.ctx, r, "impostor-hash")
		wantConflict(t, err, "kim")
		if e.dump(t, directoryTables...) != before {
			t.Error("a duplicate create changed the directory")
		}
	})

	t.Run("not found", func(t *testing.T) {
		before := e.dump(t, directoryTables...)
		for _, name := range []string{"nobody", "", "KIM"} {
			_, err := e.s.GetUser(e.ctx, name)
			wantNotFound(t, err)
			_, _, err = e.s.Credentials(e.ctx, name)
			wantNotFound(t, err)
			// The user is looked up before the patch is judged.
			_, err = e.s.UpdateUser(e.ctx, name, directory.UserPatch{MaxChats: new(99)}, "hash", nil)
			wantNotFound(t, err)
			wantNotFound(t, e.s.DeleteUser(e.ctx, name, nil))
		}
		if e.dump(t, directoryTables...) != before {
			t.Error("requests for nobody changed the directory")
		}
	})

	t.Run("the last admin stays", func(t *testing.T) {
		count := func(want int) {
			t.Helper()
			n, err := e.s.CountAdmins(e.ctx)
			if err != nil || n != want {
				t.Fatalf("CountAdmins = %d, %v; want %d", n, err, want)
			}
		}
		admins, _, err := e.s.ListUsers(e.ctx, directory.UserFilter{Role: directory.RoleAdmin}, directory.Page{})
		if err != nil || len(admins) < 3 {
			t.Fatalf("admins = %d, %v; want the three of the rules above", len(admins), err)
		}
		count(len(admins))
		// While another admin remains, an admin can be demoted or deleted.
		last := admins[0].Username
		if _, err := e.s.UpdateUser(e.ctx, admins[1].Username, directory.UserPatch{Role: new("gateway")}, "", nil); err != nil {
			t.Fatalf("demote one of several admins: %v", err)
		}
		for _, a := range admins[2:] {
			e.deleteUser(t, a.Username)
		}
		count(1)

		before := e.dump(t, directoryTables...)
		wantConflict(t, e.s.DeleteUser(e.ctx, last, nil), last)
		_, err = e.s.UpdateUser(e.ctx, last, directory.UserPatch{Role: new("gateway")}, "", nil)
		wantConflict(t, err, last)
		if e.dump(t, directoryTables...) != before {
			t.Fatal("a refused change of the last admin changed the directory")
		}
		// Staying an admin is no demotion.
		if _, err := e.s.UpdateUser(e.ctx, last, directory.UserPatch{Role: new("admin"), Name: new("Root")}, "", nil); err != nil {
			t.Fatalf("patch of the last admin: %v", err)
		}

		e.user(t, directory.UserCreate{Username: "root2", Role: directory.RoleAdmin})
		count(2)
		if _, err := e.s.UpdateUser(e.ctx, last, directory.UserPatch{Role: new("gateway")}, "", nil); err != nil {
			t.Fatalf("demote one of two admins: %v", err)
		}
		count(1)
		wantConflict(t, e.s.DeleteUser(e.ctx, "root2", nil), "root2")
		if _, err := e.s.UpdateUser(e.ctx, last, directory.UserPatch{Role: new("admin")}, "", nil); err != nil {
			t.Fatal(err)
		}
		count(2)
		e.deleteUser(t, "root2")
		count(1)
	})

	// Two changes at once, each of which leaves the other's admin, must
	// not leave none. On PostgreSQL a third transaction holds both admins'
	// rows until both changes wait for it, so each has read the admins
	// before the other writes. SQLite runs one write transaction at a
	// time: there the second change begins when the first has ended.
	t.Run("the last admin stays through changes at once", func(t *testing.T) {
		type change func(username string) error
		demote := func(username string) error {
			_, err := e.s.UpdateUser(e.ctx, username, directory.UserPatch{Role: new("gateway")}, "", nil)
			return err
		}
		remove := func(username string) error { return e.s.DeleteUser(e.ctx, username, nil) }
		for i, tc := range []struct {
			name string
			a, b change
		}{
			{"two demotions", demote, demote},
			{"two deletions", remove, remove},
			{"a demotion and a deletion", demote, remove},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := e.user(t, directory.UserCreate{Username: fmt.Sprintf("admin-a%d", i), Role: directory.RoleAdmin})
				b := e.user(t, directory.UserCreate{Username: fmt.Sprintf("admin-b%d", i), Role: directory.RoleAdmin})
				admins, _, err := e.s.ListUsers(e.ctx, directory.UserFilter{Role: directory.RoleAdmin}, directory.Page{})
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range admins {
					if o.Username != a.Username && o.Username != b.Username {
						if err := demote(o.Username); err != nil {
							t.Fatal(err)
						}
					}
				}

				var hold *sqlx.Tx
				if e.backend == "postgres" {
					if hold, err = e.db.BeginTxx(e.ctx, nil); err != nil {
						t.Fatal(err)
					}
					defer hold.Rollback()
					if _, err := hold.ExecContext(e.ctx, `SELECT username FROM users WHERE username IN ($1, $2) FOR UPDATE`,
						a.Username, b.Username); err != nil {
						t.Fatal(err)
					}
				}
				errs := make(chan error, 2)
				go func() { errs <- tc.a(a.Username) }()
				go func() { errs <- tc.b(b.Username) }()
				if hold != nil {
					e.waitForLockWaits(t, 2)
					if err := hold.Rollback(); err != nil {
						t.Fatal(err)
					}
				}

				var done, refused int
				for range 2 {
					switch err := <-errs; {
					case err == nil:
						done++
					case errors.Is(err, directory.ErrConflict):
						refused++
					default:
						t.Errorf("change = %v; want it done or refused with a conflict", err)
					}
				}
				n, err := e.s.CountAdmins(e.ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n != 1 || done != 1 || refused != 1 {
					t.Errorf("after two changes at once: %d admins, %d done, %d refused; want 1, 1, 1", n, done, refused)
				}
			})
		}
	})

	t.Run("the caller's checks", func(t *testing.T) {
		refuse := errors.New("not yours")
		before := e.dump(t, directoryTables...)
		var seen [2]directory.User
		e.clock.Advance(time.Minute)
		_, err := e.s.UpdateUser(e.ctx, "kim", directory.UserPatch{Name: new(" Kim Two "), Queues: new(memberships("gov110.tax"))}, "new-hash",
			func(before, after directory.User) error {
				seen = [2]directory.User{before, after}
				return refuse
			})
		if !errors.Is(err, refuse) {
			t.Fatalf("UpdateUser refused by its check = %v; want %v", err, refuse)
		}
		wantSame(t, "the check's before", seen[0], kim)
		after := kim
		after.Name, after.Queues = "Kim Two", memberships("gov110.tax")
		wantSame(t, "the check's after", seen[1], after)

		var deleting directory.User
		err = e.s.DeleteUser(e.ctx, "kim", func(u directory.User) error {
			deleting = u
			return refuse
		})
		if !errors.Is(err, refuse) {
			t.Fatalf("DeleteUser refused by its check = %v; want %v", err, refuse)
		}
		wantSame(t, "the delete check's user", deleting, kim)
		if e.dump(t, directoryTables...) != before {
			t.Error("changes the check refused changed the directory")
		}
	})

	t.Run("passwords and sessions", func(t *testing.T) {
		const password = "correct horse battery"
		hash, err := cheap.Hash(password)
		if err != nil {
			t.Fatal(err)
		}
		r := newUserRequest("lee")
		r.Password = password
		lee, err := e.s.CreateUser(e.ctx, r, hash)
		if err != nil {
			t.Fatal(err)
		}
		u, stored, err := e.s.Credentials(e.ctx, "lee")
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "Credentials", u, lee)
		if stored != hash {
			t.Fatalf("stored hash = %q; want %q", stored, hash)
		}
		for _, tc := range []struct {
			password string
			ok       bool
		}{{password, true}, {"correct horse batterY", false}, {"", false}} {
			if ok, err := auth.Verify(tc.password, stored); err != nil || ok != tc.ok {
				t.Errorf("Verify(%q) = %v, %v; want %v", tc.password, ok, err, tc.ok)
			}
		}

		session(t, "lee-1", "lee")
		session(t, "lee-2", "lee")
		session(t, "kim-1", "kim")

		// A patch without a new hash keeps the password and the sessions.
		if _, err := e.s.UpdateUser(e.ctx, "lee", directory.UserPatch{Name: new("Lee")}, "", nil); err != nil {
			t.Fatal(err)
		}
		if _, h, _ := e.s.Credentials(e.ctx, "lee"); h != hash {
			t.Errorf("hash after a patch without one = %q; want %q", h, hash)
		}
		if n := sessions(t, "lee"); n != 2 {
			t.Errorf("lee's sessions after a patch without a hash = %d; want 2", n)
		}

		// A new hash replaces the old and ends the user's sessions only.
		newHash, err := cheap.Hash("another password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.UpdateUser(e.ctx, "lee", directory.UserPatch{Password: new("another password")}, newHash, nil); err != nil {
			t.Fatal(err)
		}
		_, stored, err = e.s.Credentials(e.ctx, "lee")
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := auth.Verify("another password", stored); !ok {
			t.Error("the new password does not verify")
		}
		if ok, _ := auth.Verify(password, stored); ok {
			t.Error("the old password still verifies")
		}
		if n := sessions(t, "lee"); n != 0 {
			t.Errorf("lee's sessions after a new password = %d; want 0", n)
		}
		if n := sessions(t, "kim"); n != 1 {
			t.Errorf("kim's sessions after lee's new password = %d; want 1", n)
		}

		// A refused patch keeps the hash and the sessions.
		session(t, "lee-3", "lee")
		_, err = e.s.UpdateUser(e.ctx, "lee", directory.UserPatch{Password: new("short")}, "hash-of-short", nil)
		wantInvalid(t, err, "password")
		if _, h, _ := e.s.Credentials(e.ctx, "lee"); h != stored {
			t.Errorf("hash after a refused patch = %q; want %q", h, stored)
		}
		if n := sessions(t, "lee"); n != 1 {
			t.Errorf("lee's sessions after a refused patch = %d; want 1", n)
		}

		// Deleting a user deletes their sessions and memberships.
		e.deleteUser(t, "lee")
		_, err = e.s.GetUser(e.ctx, "lee")
		wantNotFound(t, err)
		_, _, err = e.s.Credentials(e.ctx, "lee")
		wantNotFound(t, err)
		if n := sessions(t, "lee"); n != 0 {
			t.Errorf("lee's sessions after the delete = %d; want 0", n)
		}
		var n int
		if err := e.db.GetContext(e.ctx, &n, e.db.Rebind(`SELECT COUNT(*) FROM user_queues WHERE username = ?`), "lee"); err != nil || n != 0 {
			t.Errorf("lee's memberships after the delete = %d, %v; want 0", n, err)
		}
		if n := sessions(t, "kim"); n != 1 {
			t.Errorf("kim's sessions after lee's delete = %d; want 1", n)
		}

		// The name can be taken again, with nothing of old.
		e.clock.Advance(time.Hour)
		again := e.user(t, directory.UserCreate{Username: "lee", Role: directory.RoleAgent, Agency: "gov110"})
		wantSame(t, "memberships of the new lee", again.Queues, []directory.Membership{})
		if n := sessions(t, "lee"); n != 0 {
			t.Errorf("sessions of the new lee = %d; want 0", n)
		}
	})

	t.Run("pii", func(t *testing.T) {
		if kim.PII {
			t.Fatal("pii granted by default")
		}
		for _, grant := range []bool{true, false} {
			got, err := e.s.UpdateUser(e.ctx, "kim", directory.UserPatch{PII: new(grant)}, "", nil)
			if err != nil || got.PII != grant {
				t.Fatalf("UpdateUser pii %v = %v, %v", grant, got.PII, err)
			}
			read, err := e.s.GetUser(e.ctx, "kim")
			if err != nil || read.PII != grant {
				t.Fatalf("GetUser after pii %v = %v, %v", grant, read.PII, err)
			}
			cred, _, err := e.s.Credentials(e.ctx, "kim")
			if err != nil || cred.PII != grant {
				t.Fatalf("Credentials after pii %v = %v, %v", grant, cred.PII, err)
			}
		}
	})

	t.Run("export", func(t *testing.T) {
		if kim.Export {
			t.Fatal("export granted by default")
		}
		for _, grant := range []bool{true, false} {
			got, err := e.s.UpdateUser(e.ctx, "kim", directory.UserPatch{Export: new(grant)}, "", nil)
			if err != nil || got.Export != grant || got.PII {
				t.Fatalf("UpdateUser export %v = %+v, %v; want export %v and nothing else changed", grant, got, err, grant)
			}
			read, err := e.s.GetUser(e.ctx, "kim")
			if err != nil || read.Export != grant {
				t.Fatalf("GetUser after export %v = %v, %v", grant, read.Export, err)
			}
			cred, _, err := e.s.Credentials(e.ctx, "kim")
			if err != nil || cred.Export != grant {
				t.Fatalf("Credentials after export %v = %v, %v", grant, cred.Export, err)
			}
		}
	})
}

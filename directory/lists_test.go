package directory_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// TestLists pages through agencies, queues and users, with their filters:
// id order, a page's limit and whether more follow, the cursor.
func TestLists(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)
		// Created out of order; "b-2" sorts before "b2", "b2" before "ba".
		for _, id := range []string{"ba", "b2", "a1", "c3", "b-2"} {
			e.agency(t, id)
		}
		for _, q := range []string{"b2.a", "a1.m", "a1.a", "b2.z", "ba.q", "b-2.x"} {
			agency, slug, _ := strings.Cut(q, ".")
			e.queue(t, agency, slug, func(s *directory.QueueSettings) {
				if q == "b2.z" {
					s.Overflow = &[]directory.OverflowRule{{AfterS: 30, To: "b2.a"}, {AfterS: 10, To: "a1.m"}}
				}
				if q == "ba.q" {
					s.Overflow = &[]directory.OverflowRule{{AfterS: 5, To: "a1.a"}}
				}
			})
		}
		users := []directory.UserCreate{
			{Username: "root", Role: "admin"},
			{Username: "gw", Role: "gateway"},
			{Username: "gw-b2", Role: "gateway", Agency: "b2"},
			{Username: "sup-a1", Role: "supervisor", Agency: "a1", Queues: []directory.Membership{{Queue: "a1.m", Level: 4}}},
			{Username: "agent-a1", Role: "agent", Agency: "a1", Queues: []directory.Membership{{Queue: "a1.a"}, {Queue: "a1.m", Level: 2}}},
			{Username: "agent-b2", Role: "agent", Agency: "b2", Queues: []directory.Membership{{Queue: "b2.z", Level: 7}}},
			{Username: "agent2-a1", Role: "agent", Agency: "a1"},
			{Username: "admin2", Role: "admin"},
		}
		for _, r := range users {
			e.user(t, r)
		}

		t.Run("agencies", func(t *testing.T) {
			for _, tc := range []struct {
				page directory.Page
				want []string
				more bool
			}{
				{directory.Page{}, []string{"a1", "b-2", "b2", "ba", "c3"}, false},
				{directory.Page{Limit: 5}, []string{"a1", "b-2", "b2", "ba", "c3"}, false},
				{directory.Page{Limit: 4}, []string{"a1", "b-2", "b2", "ba"}, true},
				{directory.Page{Limit: 2}, []string{"a1", "b-2"}, true},
				{directory.Page{After: "b-2", Limit: 2}, []string{"b2", "ba"}, true},
				{directory.Page{After: "ba", Limit: 2}, []string{"c3"}, false},
				{directory.Page{After: "b", Limit: 2}, []string{"b-2", "b2"}, true}, // a cursor need not exist
				{directory.Page{After: "c3"}, nil, false},
				{directory.Page{After: "zz", Limit: 1}, nil, false},
				{directory.Page{Limit: -1}, []string{"a1", "b-2", "b2", "ba", "c3"}, false},
				{directory.Page{Limit: 501}, []string{"a1", "b-2", "b2", "ba", "c3"}, false},
			} {
				as, more, err := e.s.ListAgencies(e.ctx, tc.page)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, a := range as {
					got = append(got, a.ID)
					full, err := e.s.GetAgency(e.ctx, a.ID)
					if err != nil {
						t.Fatal(err)
					}
					wantSame(t, "listed agency", a, full)
				}
				wantSame(t, fmt.Sprintf("ListAgencies(%+v)", tc.page), got, tc.want)
				if more != tc.more {
					t.Errorf("ListAgencies(%+v) more = %v; want %v", tc.page, more, tc.more)
				}
			}
		})

		t.Run("queues", func(t *testing.T) {
			for _, tc := range []struct {
				filter directory.QueueFilter
				page   directory.Page
				want   []string
				more   bool
			}{
				{directory.QueueFilter{}, directory.Page{}, []string{"a1.a", "a1.m", "b-2.x", "b2.a", "b2.z", "ba.q"}, false},
				{directory.QueueFilter{}, directory.Page{Limit: 3}, []string{"a1.a", "a1.m", "b-2.x"}, true},
				{directory.QueueFilter{}, directory.Page{After: "b-2.x", Limit: 3}, []string{"b2.a", "b2.z", "ba.q"}, false},
				{directory.QueueFilter{}, directory.Page{After: "b2", Limit: 2}, []string{"b2.a", "b2.z"}, true},
				{directory.QueueFilter{Agency: "a1"}, directory.Page{}, []string{"a1.a", "a1.m"}, false},
				{directory.QueueFilter{Agency: "a1"}, directory.Page{Limit: 1}, []string{"a1.a"}, true},
				{directory.QueueFilter{Agency: "a1"}, directory.Page{After: "a1.a", Limit: 1}, []string{"a1.m"}, false},
				{directory.QueueFilter{Agency: "b2"}, directory.Page{After: "a1.m"}, []string{"b2.a", "b2.z"}, false},
				// "b-2" is an agency of its own, not a prefix of "b2".
				{directory.QueueFilter{Agency: "b-2"}, directory.Page{}, []string{"b-2.x"}, false},
				{directory.QueueFilter{Agency: "b"}, directory.Page{}, nil, false},
				{directory.QueueFilter{Agency: "c3"}, directory.Page{}, nil, false},
				{directory.QueueFilter{Agency: "nowhere"}, directory.Page{}, nil, false},
			} {
				qs, more, err := e.s.ListQueues(e.ctx, tc.filter, tc.page)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, q := range qs {
					got = append(got, q.ID)
					// Each listed queue is whole, its own overflow rules in
					// their order among them.
					full, err := e.s.GetQueue(e.ctx, q.ID)
					if err != nil {
						t.Fatal(err)
					}
					wantSame(t, "listed queue", q, full)
				}
				what := fmt.Sprintf("ListQueues(%+v, %+v)", tc.filter, tc.page)
				wantSame(t, what, got, tc.want)
				if more != tc.more {
					t.Errorf("%s more = %v; want %v", what, more, tc.more)
				}
			}
			z, err := e.s.GetQueue(e.ctx, "b2.z")
			if err != nil {
				t.Fatal(err)
			}
			wantSame(t, "rules of b2.z", z.Overflow, []directory.OverflowRule{{AfterS: 30, To: "b2.a"}, {AfterS: 10, To: "a1.m"}})
		})

		t.Run("users", func(t *testing.T) {
			for _, tc := range []struct {
				filter directory.UserFilter
				page   directory.Page
				want   []string
				more   bool
			}{
				{directory.UserFilter{}, directory.Page{}, []string{"admin2", "agent-a1", "agent-b2", "agent2-a1", "gw", "gw-b2", "root", "sup-a1"}, false},
				{directory.UserFilter{}, directory.Page{Limit: 3}, []string{"admin2", "agent-a1", "agent-b2"}, true},
				{directory.UserFilter{}, directory.Page{After: "agent-b2", Limit: 3}, []string{"agent2-a1", "gw", "gw-b2"}, true},
				{directory.UserFilter{}, directory.Page{After: "gw-b2", Limit: 3}, []string{"root", "sup-a1"}, false},
				{directory.UserFilter{Agency: "a1"}, directory.Page{}, []string{"agent-a1", "agent2-a1", "sup-a1"}, false},
				{directory.UserFilter{Agency: "a1"}, directory.Page{After: "agent-a1", Limit: 1}, []string{"agent2-a1"}, true},
				{directory.UserFilter{Agency: "b2"}, directory.Page{}, []string{"agent-b2", "gw-b2"}, false},
				{directory.UserFilter{Agency: "c3"}, directory.Page{}, nil, false},
				{directory.UserFilter{Role: "admin"}, directory.Page{}, []string{"admin2", "root"}, false},
				{directory.UserFilter{Role: "admin"}, directory.Page{Limit: 1}, []string{"admin2"}, true},
				{directory.UserFilter{Role: "gateway"}, directory.Page{}, []string{"gw", "gw-b2"}, false},
				{directory.UserFilter{Role: "agent"}, directory.Page{}, []string{"agent-a1", "agent-b2", "agent2-a1"}, false},
				{directory.UserFilter{Role: "agent"}, directory.Page{After: "agent-a1", Limit: 1}, []string{"agent-b2"}, true},
				{directory.UserFilter{Role: "supervisor"}, directory.Page{}, []string{"sup-a1"}, false},
				{directory.UserFilter{Agency: "a1", Role: "agent"}, directory.Page{}, []string{"agent-a1", "agent2-a1"}, false},
				{directory.UserFilter{Agency: "b2", Role: "gateway"}, directory.Page{}, []string{"gw-b2"}, false},
				{directory.UserFilter{Agency: "a1", Role: "admin"}, directory.Page{}, nil, false},
				{directory.UserFilter{Role: "root"}, directory.Page{}, nil, false},
			} {
				us, more, err := e.s.ListUsers(e.ctx, tc.filter, tc.page)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, u := range us {
					got = append(got, u.Username)
					// Each listed user is whole, with their own memberships.
					full, err := e.s.GetUser(e.ctx, u.Username)
					if err != nil {
						t.Fatal(err)
					}
					wantSame(t, "listed user", u, full)
				}
				what := fmt.Sprintf("ListUsers(%+v, %+v)", tc.filter, tc.page)
				wantSame(t, what, got, tc.want)
				if more != tc.more {
					t.Errorf("%s more = %v; want %v", what, more, tc.more)
				}
			}
			a, err := e.s.GetUser(e.ctx, "agent-a1")
			if err != nil {
				t.Fatal(err)
			}
			wantSame(t, "memberships of agent-a1", a.Queues, []directory.Membership{{Queue: "a1.a", Level: 1}, {Queue: "a1.m", Level: 2}})
		})

		t.Run("a page holds 100 unless asked", func(t *testing.T) {
			// 101 agencies in all; the 96 more in one transaction, for speed.
			err := e.db.InTx(e.ctx, func(tx *sqlx.Tx) error {
				for i := range 96 {
					if _, err := tx.ExecContext(e.ctx, tx.Rebind(`INSERT INTO agencies (id, name, description, created_at, updated_at)
						VALUES (?, ?, '', ?, ?)`), fmt.Sprintf("z%03d", i), "Z", e.clock.Stamp(), e.clock.Stamp()); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				limit, want int
				more        bool
			}{
				{0, 100, true}, {-5, 100, true}, {501, 100, true}, {100, 100, true},
				{500, 101, false}, {101, 101, false}, {1, 1, true},
			} {
				as, more, err := e.s.ListAgencies(e.ctx, directory.Page{Limit: tc.limit})
				if err != nil {
					t.Fatal(err)
				}
				if len(as) != tc.want || more != tc.more {
					t.Errorf("ListAgencies(limit %d) = %d agencies, more %v; want %d, %v", tc.limit, len(as), more, tc.want, tc.more)
				}
			}
		})
	})
}

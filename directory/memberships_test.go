package directory_test

import (
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// TestMemberships follows one user's memberships through creates and
// patches. Whatever a write answers is the user a read gives afterwards:
// memberships in queue order, an empty list rather than none.
func TestMemberships(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)
		e.agency(t, "gov110")
		e.agency(t, "dept2")
		for _, q := range []string{"a", "b", "c"} {
			e.queue(t, "gov110", q)
		}
		e.queue(t, "dept2", "a")

		steps := []struct {
			name   string
			create *directory.UserCreate // or else:
			patch  directory.UserPatch
			want   []directory.Membership
		}{
			{
				name: "created out of queue order",
				create: &directory.UserCreate{Username: "kim", Name: "Kim", Password: "correct horse", Role: "agent", Agency: "gov110",
					Queues: []directory.Membership{{Queue: "gov110.c", Level: 5}, {Queue: "dept2.a"}, {Queue: "gov110.a", Level: 10}}},
				want: []directory.Membership{{Queue: "dept2.a", Level: 1}, {Queue: "gov110.a", Level: 10}, {Queue: "gov110.c", Level: 5}},
			},
			{
				name:  "a patch without queues keeps them",
				patch: directory.UserPatch{Name: new("Kim Lee")},
				want:  []directory.Membership{{Queue: "dept2.a", Level: 1}, {Queue: "gov110.a", Level: 10}, {Queue: "gov110.c", Level: 5}},
			},
			{
				name:  "queues given replace the list, out of queue order",
				patch: directory.UserPatch{Queues: &[]directory.Membership{{Queue: "gov110.b", Level: 2}, {Queue: "gov110.a", Level: 3}}},
				want:  []directory.Membership{{Queue: "gov110.a", Level: 3}, {Queue: "gov110.b", Level: 2}},
			},
			{
				name:  "a level changes",
				patch: directory.UserPatch{Queues: &[]directory.Membership{{Queue: "gov110.b", Level: 9}, {Queue: "gov110.a"}}},
				want:  []directory.Membership{{Queue: "gov110.a", Level: 1}, {Queue: "gov110.b", Level: 9}},
			},
			{
				name:  "an empty list clears them",
				patch: directory.UserPatch{Queues: &[]directory.Membership{}},
				want:  []directory.Membership{},
			},
			{
				name:  "none stay none through a patch without queues",
				patch: directory.UserPatch{MaxChats: new(1)},
				want:  []directory.Membership{},
			},
			{
				name:  "a null list clears them too",
				patch: directory.UserPatch{Queues: new([]directory.Membership(nil))},
				want:  []directory.Membership{},
			},
			{
				name:   "created with none",
				create: &directory.UserCreate{Username: "root", Name: "Root", Password: "correct horse", Role: "admin"},
				want:   []directory.Membership{},
			},
			{
				name:  "an admin without queues, patched",
				patch: directory.UserPatch{Name: new("Root")},
				want:  []directory.Membership{},
			},
		}
		username := ""
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				e.clock.Advance(time.Second)
				var got directory.User
				var err error
				if st.create != nil {
					username = st.create.Username
					got, err = e.s.CreateUser(e.ctx, *st.create, "hash")
				} else {
					got, err = e.s.UpdateUser(e.ctx, username, st.patch, "", nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				wantSame(t, "memberships answered", got.Queues, st.want)
				read, err := e.s.GetUser(e.ctx, username)
				if err != nil {
					t.Fatal(err)
				}
				wantSame(t, "memberships read", read.Queues, st.want)
				wantSame(t, "user answered", got, read)
				cred, _, err := e.s.Credentials(e.ctx, username)
				if err != nil {
					t.Fatal(err)
				}
				wantSame(t, "user of the credentials", cred, read)
			})
		}
	})
}

package directory_test

import (
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// TestTimestamps checks created_at and updated_at of every record against
// the store's clock: set on creation, moved by each change and by nothing
// else, kept to the microsecond, and in UTC whatever the clock's zone or
// the database session's.
func TestTimestamps(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)

		// stamps is what a record's reads say of its times.
		type stamps struct{ created, updated []time.Time }
		records := []struct {
			name   string
			create func(t *testing.T) (created, updated time.Time)
			update func(t *testing.T, refused bool) (created, updated time.Time, err error)
			read   func(t *testing.T) stamps // from a get and from a list
		}{
			{
				name: "agency",
				create: func(t *testing.T) (time.Time, time.Time) {
					a := e.agency(t, "gov110")
					return a.CreatedAt, a.UpdatedAt
				},
				update: func(t *testing.T, refused bool) (time.Time, time.Time, error) {
					name := "Renamed"
					if refused {
						name = ""
					}
					a, err := e.s.UpdateAgency(e.ctx, "gov110", directory.AgencyPatch{Name: &name})
					return a.CreatedAt, a.UpdatedAt, err
				},
				read: func(t *testing.T) stamps {
					a, err := e.s.GetAgency(e.ctx, "gov110")
					if err != nil {
						t.Fatal(err)
					}
					as, _, err := e.s.ListAgencies(e.ctx, directory.Page{})
					if err != nil || len(as) != 1 {
						t.Fatalf("ListAgencies = %d agencies, %v", len(as), err)
					}
					return stamps{[]time.Time{a.CreatedAt, as[0].CreatedAt}, []time.Time{a.UpdatedAt, as[0].UpdatedAt}}
				},
			},
			{
				name: "queue",
				create: func(t *testing.T) (time.Time, time.Time) {
					q := e.queue(t, "gov110", "general")
					return q.CreatedAt, q.UpdatedAt
				},
				update: func(t *testing.T, refused bool) (time.Time, time.Time, error) {
					wrapup := 5
					if refused {
						wrapup = -1
					}
					q, err := e.s.UpdateQueue(e.ctx, "gov110.general", directory.QueueSettings{WrapupS: &wrapup})
					return q.CreatedAt, q.UpdatedAt, err
				},
				read: func(t *testing.T) stamps {
					q, err := e.s.GetQueue(e.ctx, "gov110.general")
					if err != nil {
						t.Fatal(err)
					}
					qs, _, err := e.s.ListQueues(e.ctx, directory.QueueFilter{}, directory.Page{})
					if err != nil || len(qs) != 1 {
						t.Fatalf("ListQueues = %d queues, %v", len(qs), err)
					}
					return stamps{[]time.Time{q.CreatedAt, qs[0].CreatedAt}, []time.Time{q.UpdatedAt, qs[0].UpdatedAt}}
				},
			},
			{
				name: "user",
				create: func(t *testing.T) (time.Time, time.Time) {
					u := e.user(t, directory.UserCreate{Username: "kim", Role: "agent", Agency: "gov110"})
					return u.CreatedAt, u.UpdatedAt
				},
				update: func(t *testing.T, refused bool) (time.Time, time.Time, error) {
					chats := 2
					if refused {
						chats = -1
					}
					u, err := e.s.UpdateUser(e.ctx, "kim", directory.UserPatch{MaxChats: &chats}, "", nil)
					return u.CreatedAt, u.UpdatedAt, err
				},
				read: func(t *testing.T) stamps {
					u, err := e.s.GetUser(e.ctx, "kim")
					if err != nil {
						t.Fatal(err)
					}
					c, _, err := e.s.Credentials(e.ctx, "kim")
					if err != nil {
						t.Fatal(err)
					}
					us, _, err := e.s.ListUsers(e.ctx, directory.UserFilter{}, directory.Page{})
					if err != nil || len(us) != 1 {
						t.Fatalf("ListUsers = %d users, %v", len(us), err)
					}
					return stamps{[]time.Time{u.CreatedAt, c.CreatedAt, us[0].CreatedAt}, []time.Time{u.UpdatedAt, c.UpdatedAt, us[0].UpdatedAt}}
				},
			},
		}

		// same fails unless every time is want, in UTC (not merely at
		// the same instant: a reader in another zone gets what JSON shows).
		same := func(t *testing.T, what string, want time.Time, got ...time.Time) {
			t.Helper()
			for _, g := range got {
				if !g.Equal(want) || g.Location() != time.UTC {
					t.Errorf("%s = %s (%s); want %s in UTC", what, g.Format(time.RFC3339Nano), g.Location(), want.Format(time.RFC3339Nano))
				}
			}
		}

		for _, r := range records {
			t.Run(r.name, func(t *testing.T) {
				e.clock.Advance(time.Hour + 987*time.Nanosecond)
				created := e.clock.Stamp()
				if created.Nanosecond()%1000 != 0 || e.clock.Now().Nanosecond()%1000 == 0 {
					t.Fatal("the clock does not test the truncation")
				}
				c, u := r.create(t)
				same(t, "created_at of the create", created, c)
				same(t, "updated_at of the create", created, u)
				s := r.read(t)
				same(t, "created_at read", created, s.created...)
				same(t, "updated_at read", created, s.updated...)

				e.clock.Advance(90 * time.Second)
				if _, _, err := r.update(t, true); err == nil {
					t.Fatal("the refused update was not refused")
				}
				s = r.read(t)
				same(t, "updated_at after a refused update", created, s.updated...)

				e.clock.Advance(time.Minute + 1)
				updated := e.clock.Stamp()
				c, u, err := r.update(t, false)
				if err != nil {
					t.Fatal(err)
				}
				same(t, "created_at of the update", created, c)
				same(t, "updated_at of the update", updated, u)
				s = r.read(t)
				same(t, "created_at read after the update", created, s.created...)
				same(t, "updated_at read after the update", updated, s.updated...)
			})
		}

		t.Run("real clock", func(t *testing.T) {
			s := directory.NewStore(e.db, nil)
			from := time.Now().UTC().Truncate(time.Microsecond)
			a, err := s.CreateAgency(e.ctx, directory.AgencyCreate{ID: "now", Name: "Now"})
			to := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			if a.CreatedAt.Before(from) || a.CreatedAt.After(to) || a.CreatedAt.Location() != time.UTC || a.CreatedAt.Nanosecond()%1000 != 0 {
				t.Errorf("created_at with the real clock = %s; want in UTC to the microsecond, between %s and %s",
					a.CreatedAt.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
			}
		})
	})
}

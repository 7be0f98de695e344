package demo

import (
	"context"
	"slices"
	"testing"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// A cheap hash: the test is about the records, not the passwords.
var testHasher = auth.Hasher{Time: 1, Memory: 64, Threads: 1}

// TestSeed: the demo directory is valid as the API would store it, has
// its interpreter service, and seeding again changes nothing.
func TestSeed(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		dir := directory.NewStore(b.DB, nil)
		logins, err := Seed(ctx, dir, testHasher)
		if err != nil {
			t.Fatalf("Seed: %v", err)
		}
		again, err := Seed(ctx, dir, testHasher)
		if err != nil || len(again) != len(logins) {
			t.Fatalf("second Seed = %d logins, %v; want the same %d, nil", len(again), err, len(logins))
		}

		queues, _, err := dir.ListQueues(ctx, directory.QueueFilter{}, directory.Page{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queues {
			switch q.Kind {
			case directory.KindService:
				if !slices.Contains(q.Channels, directory.ChannelVoice) || !slices.Contains(q.Channels, directory.ChannelCallback) ||
					q.CallbackAfterS != callbackAfterS || !q.Public {
					t.Errorf("service queue %s = channels %v, callback after %d s, public %v; want voice and callback, %d s, public",
						q.ID, q.Channels, q.CallbackAfterS, q.Public, callbackAfterS)
				}
			case directory.KindInterpreter:
				if q.ID != "interp.languages" || q.Public || !slices.Equal(q.Channels, []string{"voice", "chat"}) {
					t.Errorf("interpreter queue %s = channels %v, public %v; want interp.languages, voice and chat, not public", q.ID, q.Channels, q.Public)
				}
			default:
				t.Errorf("queue %s has kind %q", q.ID, q.Kind)
			}
		}
		if _, err := dir.GetQueue(ctx, "interp.languages"); err != nil {
			t.Fatalf("GetQueue(interp.languages): %v", err)
		}

		// The interpreters between them speak every language the
		// foreign-language lines need, and Korean, and are printed.
		printed := map[string]bool{}
		for _, l := range logins {
			printed[l.Username] = true
		}
		speaks := map[string]bool{}
		users, _, err := dir.ListUsers(ctx, directory.UserFilter{Agency: "interp", Role: directory.RoleAgent}, directory.Page{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) < 2 {
			t.Errorf("interp has %d agents; want two or more", len(users))
		}
		for _, u := range users {
			if len(u.Queues) != 1 || u.Queues[0].Queue != "interp.languages" {
				t.Errorf("interpreter %s is in %+v; want interp.languages", u.Username, u.Queues)
			}
			if !printed[u.Username] {
				t.Errorf("interpreter %s is not among the printed logins", u.Username)
			}
			for k := range u.Skills {
				speaks[k] = true
			}
		}
		for _, lang := range []string{"lang:ko", "lang:en", "lang:zh", "lang:vi"} {
			if !speaks[lang] {
				t.Errorf("no interpreter has %s", lang)
			}
		}
		if !printed["sup.interp"] {
			t.Errorf("sup.interp is not among the printed logins")
		}

		// Supervisors export, as after an upgrade; agents do not.
		all, _, err := dir.ListUsers(ctx, directory.UserFilter{}, directory.Page{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range all {
			if want := u.Role == directory.RoleSupervisor; u.Export != want {
				t.Errorf("%s (%s) has export %v; want %v", u.Username, u.Role, u.Export, want)
			}
		}
	})
}

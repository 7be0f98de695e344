package directory_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/schedule"
	"tellonce/sql/sqltest"
)

// TestAgencies goes through every rule of AgencyCreate and AgencyPatch,
// then an agency's life: conflicts, what is not found, and the rule that
// only an empty agency can be deleted.
func TestAgencies(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)
		agencyRules(t, e)
		agencyLife(t, e)
	})
}

// agencyRules: a refused request names its field and stores nothing; a
// request at the edge of a limit is stored as asked.
func agencyRules(t *testing.T, e *env) {
	gov := e.agency(t, "gov110")
	before := e.dump(t, "agencies")

	names := []struct {
		name  string
		value string
	}{
		{"empty name", ""},
		{"blank name", " \t\n"},
		{"name of 101 characters", strings.Repeat("가", 101)},
		{"name of invalid UTF-8", "Agency \xff"},
	}
	descriptions := []struct {
		name  string
		value string
	}{
		{"description of 1001 characters", strings.Repeat("é", 1001)},
		{"description of invalid UTF-8", "about \xff"},
	}

	t.Run("create refused", func(t *testing.T) {
		cases := []struct {
			name  string
			set   func(*directory.AgencyCreate)
			field string
		}{
			{"empty id", func(r *directory.AgencyCreate) { r.ID = "" }, "id"},
			{"id of one character", func(r *directory.AgencyCreate) { r.ID = "g" }, "id"},
			{"id of 33 characters", func(r *directory.AgencyCreate) { r.ID = strings.Repeat("g", 33) }, "id"},
			{"id with an uppercase letter", func(r *directory.AgencyCreate) { r.ID = "Gov2" }, "id"},
			{"id starting with a hyphen", func(r *directory.AgencyCreate) { r.ID = "-gov2" }, "id"},
			{"id with an underscore", func(r *directory.AgencyCreate) { r.ID = "gov_2" }, "id"},
			{"id with a dot", func(r *directory.AgencyCreate) { r.ID = "gov.2" }, "id"},
			{"id with a space", func(r *directory.AgencyCreate) { r.ID = "gov 2" }, "id"},
			{"id with a non-ASCII letter", func(r *directory.AgencyCreate) { r.ID = "göv" }, "id"},
		}
		for _, n := range names {
			cases = append(cases, struct {
				name  string
				set   func(*directory.AgencyCreate)
				field string
			}{n.name, func(r *directory.AgencyCreate) { r.Name = n.value }, "name"})
		}
		for _, d := range descriptions {
			cases = append(cases, struct {
				name  string
				set   func(*directory.AgencyCreate)
				field string
			}{d.name, func(r *directory.AgencyCreate) { r.Description = d.value }, "description"})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := directory.AgencyCreate{ID: "gov2", Name: "Second agency", Description: "about"}
				tc.set(&r)
				_, err := e.s.CreateAgency(e.ctx, r)
				wantInvalid(t, err, tc.field)
				_, err = e.s.GetAgency(e.ctx, r.ID)
				wantNotFound(t, err)
			})
		}
		if e.dump(t, "agencies") != before {
			t.Error("refused creates changed the agencies")
		}
	})

	t.Run("patch refused", func(t *testing.T) {
		type patchCase struct {
			name  string
			patch directory.AgencyPatch
			field string
		}
		var cases []patchCase
		for _, n := range names {
			cases = append(cases, patchCase{n.name, directory.AgencyPatch{Name: new(n.value)}, "name"})
			// A bad field refuses the whole patch, good fields with it.
			cases = append(cases, patchCase{n.name + " with a good description",
				directory.AgencyPatch{Name: new(n.value), Description: new("fine")}, "name"})
		}
		for _, d := range descriptions {
			cases = append(cases, patchCase{d.name, directory.AgencyPatch{Description: new(d.value)}, "description"})
			cases = append(cases, patchCase{d.name + " with a good name",
				directory.AgencyPatch{Name: new("Fine"), Description: new(d.value)}, "description"})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.clock.Advance(time.Second)
				_, err := e.s.UpdateAgency(e.ctx, gov.ID, tc.patch)
				wantInvalid(t, err, tc.field)
				read, err := e.s.GetAgency(e.ctx, gov.ID)
				if err != nil {
					t.Fatal(err)
				}
				wantSame(t, "agency after a refused patch", read, gov)
			})
		}
		if e.dump(t, "agencies") != before {
			t.Error("refused patches changed the agencies")
		}
	})

	t.Run("create accepted", func(t *testing.T) {
		for i, tc := range []struct {
			name string
			req  directory.AgencyCreate
			want directory.Agency // without the timestamps
		}{
			{"id of two characters", directory.AgencyCreate{ID: "ab", Name: "AB"},
				directory.Agency{ID: "ab", Name: "AB"}},
			{"id of 32 characters", directory.AgencyCreate{ID: "a" + strings.Repeat("-", 30) + "z", Name: "Long"},
				directory.Agency{ID: "a" + strings.Repeat("-", 30) + "z", Name: "Long"}},
			{"id starting with a digit", directory.AgencyCreate{ID: "119", Name: "Fire"},
				directory.Agency{ID: "119", Name: "Fire"}},
			{"name of 100 characters", directory.AgencyCreate{ID: "n100", Name: strings.Repeat("가", 100)},
				directory.Agency{ID: "n100", Name: strings.Repeat("가", 100)}},
			{"name is trimmed", directory.AgencyCreate{ID: "trim", Name: "  Padded name\t"},
				directory.Agency{ID: "trim", Name: "Padded name"}},
			{"description of 1000 characters", directory.AgencyCreate{ID: "d1000", Name: "D", Description: strings.Repeat("é", 1000)},
				directory.Agency{ID: "d1000", Name: "D", Description: strings.Repeat("é", 1000)}},
			{"description kept as given", directory.AgencyCreate{ID: "dkept", Name: "D", Description: "  line one\nline two  "},
				directory.Agency{ID: "dkept", Name: "D", Description: "  line one\nline two  "}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.clock.Advance(time.Duration(i+1) * time.Second)
				want := tc.want
				want.CreatedAt, want.UpdatedAt = e.clock.Stamp(), e.clock.Stamp()
				want.TimeZone, want.Holidays = schedule.DefaultZone, directory.Holidays{}
				got, err := e.s.CreateAgency(e.ctx, tc.req)
				if err != nil {
					t.Fatalf("CreateAgency: %v", err)
				}
				wantSame(t, "CreateAgency", got, want)
				read, err := e.s.GetAgency(e.ctx, want.ID)
				if err != nil {
					t.Fatalf("GetAgency: %v", err)
				}
				wantSame(t, "GetAgency", read, want)
			})
		}
	})

	t.Run("patch accepted", func(t *testing.T) {
		// The patches apply one after the other to gov110.
		for _, tc := range []struct {
			what  string
			patch directory.AgencyPatch
			name  string // what the agency's name and description become
			desc  string
		}{
			{"nothing", directory.AgencyPatch{}, "Agency gov110", ""},
			{"name of 100 characters", directory.AgencyPatch{Name: new(strings.Repeat("가", 100))}, strings.Repeat("가", 100), ""},
			{"name is trimmed", directory.AgencyPatch{Name: new("  Civil complaints ")}, "Civil complaints", ""},
			{"description of 1000 characters", directory.AgencyPatch{Description: new(strings.Repeat("é", 1000))}, "Civil complaints", strings.Repeat("é", 1000)},
			{"both, the description kept as given", directory.AgencyPatch{Name: new("Both"), Description: new(" both ")}, "Both", " both "},
			{"description emptied", directory.AgencyPatch{Description: new("")}, "Both", ""},
		} {
			t.Run(tc.what, func(t *testing.T) {
				e.clock.Advance(time.Minute)
				want := directory.Agency{ID: gov.ID, Name: tc.name, Description: tc.desc, CreatedAt: gov.CreatedAt, UpdatedAt: e.clock.Stamp(),
					TimeZone: schedule.DefaultZone, Holidays: directory.Holidays{}}
				got, err := e.s.UpdateAgency(e.ctx, gov.ID, tc.patch)
				if err != nil {
					t.Fatalf("UpdateAgency: %v", err)
				}
				wantSame(t, "UpdateAgency", got, want)
				read, err := e.s.GetAgency(e.ctx, gov.ID)
				if err != nil {
					t.Fatalf("GetAgency: %v", err)
				}
				wantSame(t, "GetAgency", read, want)
			})
		}
	})
}

// agencyLife runs after agencyRules, on the agency gov110 it left.
func agencyLife(t *testing.T, e *env) {
	t.Run("duplicate id", func(t *testing.T) {
		before := e.dump(t, "agencies")
		_, err := e.s.CreateAgency(e.ctx, directory.AgencyCreate{ID: "gov110", Name: "Impostor", Description: "x"})
		wantConflict(t, err, "gov110")
		if e.dump(t, "agencies") != before {
			t.Error("a duplicate create changed the agencies")
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{"nowhere", "", "GOV110"} {
			_, err := e.s.GetAgency(e.ctx, id)
			wantNotFound(t, err)
			_, err = e.s.UpdateAgency(e.ctx, id, directory.AgencyPatch{Name: new("X")})
			wantNotFound(t, err)
			wantNotFound(t, e.s.DeleteAgency(e.ctx, id))
		}
		// A patch is validated before the agency is looked up.
		_, err := e.s.UpdateAgency(e.ctx, "nowhere", directory.AgencyPatch{Name: new("")})
		wantInvalid(t, err, "name")
	})

	t.Run("delete refused while queues or users remain", func(t *testing.T) {
		cases := []struct {
			name  string
			fill  func(t *testing.T, agency string)
			empty func(t *testing.T, agency string)
			parts []string // what the conflict names
		}{
			{
				name:  "a queue",
				fill:  func(t *testing.T, a string) { e.queue(t, a, "general") },
				empty: func(t *testing.T, a string) { e.deleteQueue(t, a+".general") },
				parts: []string{"1 queues", "0 users"},
			},
			{
				name: "an agent",
				fill: func(t *testing.T, a string) {
					e.user(t, directory.UserCreate{Username: "agent-" + a, Role: directory.RoleAgent, Agency: a})
				},
				empty: func(t *testing.T, a string) { e.deleteUser(t, "agent-"+a) },
				parts: []string{"0 queues", "1 users"},
			},
			{
				name: "a gateway",
				fill: func(t *testing.T, a string) {
					e.user(t, directory.UserCreate{Username: "gw-" + a, Role: directory.RoleGateway, Agency: a})
				},
				empty: func(t *testing.T, a string) { e.deleteUser(t, "gw-"+a) },
				parts: []string{"0 queues", "1 users"},
			},
			{
				name: "queues and a member",
				fill: func(t *testing.T, a string) {
					e.queue(t, a, "one")
					e.queue(t, a, "two")
					e.user(t, directory.UserCreate{Username: "sup-" + a, Role: directory.RoleSupervisor, Agency: a,
						Queues: []directory.Membership{{Queue: a + ".one"}}})
				},
				empty: func(t *testing.T, a string) {
					e.deleteUser(t, "sup-"+a)
					e.deleteQueue(t, a+".one")
					e.deleteQueue(t, a+".two")
				},
				parts: []string{"2 queues", "1 users"},
			},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprintf("full%d", i)
				e.agency(t, id)
				tc.fill(t, id)
				before := e.dump(t, directoryTables...)
				wantConflict(t, e.s.DeleteAgency(e.ctx, id), append([]string{id}, tc.parts...)...)
				if e.dump(t, directoryTables...) != before {
					t.Fatal("a refused delete changed the directory")
				}
				tc.empty(t, id)
				if err := e.s.DeleteAgency(e.ctx, id); err != nil {
					t.Fatalf("DeleteAgency of the emptied agency: %v", err)
				}
				_, err := e.s.GetAgency(e.ctx, id)
				wantNotFound(t, err)
			})
		}
	})

	t.Run("admins and gateways of every agency hold no agency", func(t *testing.T) {
		e.agency(t, "lonely")
		e.user(t, directory.UserCreate{Username: "root", Role: directory.RoleAdmin})
		e.user(t, directory.UserCreate{Username: "gw-all", Role: directory.RoleGateway})
		if err := e.s.DeleteAgency(e.ctx, "lonely"); err != nil {
			t.Fatalf("DeleteAgency: %v", err)
		}
	})

	t.Run("deleted id can be taken again", func(t *testing.T) {
		e.agency(t, "again")
		if err := e.s.DeleteAgency(e.ctx, "again"); err != nil {
			t.Fatalf("DeleteAgency: %v", err)
		}
		wantNotFound(t, e.s.DeleteAgency(e.ctx, "again"))
		e.clock.Advance(time.Hour)
		a := e.agency(t, "again")
		if !a.CreatedAt.Equal(e.clock.Stamp()) {
			t.Errorf("re-created agency's created_at = %v; want %v", a.CreatedAt, e.clock.Stamp())
		}
	})
}

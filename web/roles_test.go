package web

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// codes gives the status every principal must get, in the column order of
// the role table; anonymous callers always get 401.
func codes(admin, sup, otherSup, agent, otherAgent, gateway int) map[string]int {
	return map[string]int{
		asAnon: http.StatusUnauthorized, asAdmin: admin, asSup: sup, asOtherSup: otherSup,
		asAgent: agent, asOtherAgent: otherAgent, asGateway: gateway,
	}
}

const (
	ok200   = http.StatusOK
	new201  = http.StatusCreated
	gone204 = http.StatusNoContent
	no403   = http.StatusForbidden
	dup409  = http.StatusConflict
)

// roleRow is one route of the role table. target makes the request's path
// and body for one principal; it creates a fresh record where the request
// would consume one, so that a request a rule failed to refuse would
// succeed and show.
type roleRow struct {
	method string
	route  string // for failure messages
	target func(h *harness, as string) (path string, body any)
	want   map[string]int
}

func fixed(path string, body any) func(*harness, string) (string, any) {
	return func(*harness, string) (string, any) { return path, body }
}

// self targets the principal's own user record (anonymous: an agent's).
func self(body any) func(*harness, string) (string, any) {
	return func(_ *harness, as string) (string, any) {
		if as == asAnon {
			as = asAgent
		}
		return "/v1/users/" + as, body
	}
}

func newAgencyBody(h *harness, _ string) (string, any) {
	id := h.fresh("new")
	return "/v1/agencies", map[string]string{"id": id, "name": "Agency " + id}
}

func newQueueBody(agency string) func(*harness, string) (string, any) {
	return func(h *harness, _ string) (string, any) {
		slug := h.fresh("q")
		return "/v1/agencies/" + agency + "/queues", map[string]any{"id": slug, "name": "Queue " + slug}
	}
}

func newUserBody(h *harness, _ string) (string, any) {
	name := h.fresh("new-agent")
	return "/v1/users", map[string]any{
		"username": name, "name": "New " + name, "password": testPassword, "role": "agent", "agency": "gov110",
		"queues": []map[string]any{{"queue": "gov110.general", "level": 2}},
	}
}

// roleTable is every directory route against every role. The own agency
// is gov110; "other" principals belong to nts126.
var roleTable = []roleRow{
	// Columns:                                                                     admin   sup     oSup    agent   oAgent  gateway
	{"POST", "/v1/agencies", newAgencyBody, codes(new201, no403, no403, no403, no403, no403)},
	{"GET", "/v1/agencies", fixed("/v1/agencies", nil), codes(ok200, ok200, ok200, ok200, ok200, no403)},
	{"GET", "/v1/agencies/{id}", fixed("/v1/agencies/gov110", nil), codes(ok200, ok200, ok200, ok200, ok200, no403)},
	{"PATCH", "/v1/agencies/{id}", fixed("/v1/agencies/gov110", map[string]string{"description": "changed"}), codes(ok200, no403, no403, no403, no403, no403)},
	{"DELETE", "/v1/agencies/{id} (empty)", func(h *harness, _ string) (string, any) {
		return "/v1/agencies/" + h.mkAgency(h.fresh("empty")).ID, nil
	}, codes(gone204, no403, no403, no403, no403, no403)},
	{"DELETE", "/v1/agencies/{id} (own, has queues)", fixed("/v1/agencies/gov110", nil), codes(dup409, no403, no403, no403, no403, no403)},

	{"POST", "/v1/agencies/{gov110}/queues", newQueueBody("gov110"), codes(new201, new201, no403, no403, no403, no403)},
	{"POST", "/v1/agencies/{nts126}/queues", newQueueBody("nts126"), codes(new201, no403, new201, no403, no403, no403)},
	{"GET", "/v1/queues", fixed("/v1/queues", nil), codes(ok200, ok200, ok200, ok200, ok200, no403)},
	{"GET", "/v1/queues?agency=gov110", fixed("/v1/queues?agency=gov110", nil), codes(ok200, ok200, no403, ok200, no403, no403)},
	{"GET", "/v1/queues/{queue}", fixed("/v1/queues/gov110.general", nil), codes(ok200, ok200, no403, ok200, no403, no403)},
	{"GET", "/v1/queues/{queue} (missing, own agency)", fixed("/v1/queues/gov110.missing", nil), codes(http.StatusNotFound, http.StatusNotFound, no403, http.StatusNotFound, no403, no403)},
	{"PATCH", "/v1/queues/{queue}", func(h *harness, _ string) (string, any) {
		return "/v1/queues/" + h.freshQueue("gov110"), map[string]any{"name": "Renamed", "offer_timeout_s": 30}
	}, codes(ok200, ok200, no403, no403, no403, no403)},
	{"DELETE", "/v1/queues/{queue}", func(h *harness, _ string) (string, any) {
		return "/v1/queues/" + h.freshQueue("gov110"), nil
	}, codes(gone204, gone204, no403, no403, no403, no403)},

	{"POST", "/v1/users", newUserBody, codes(new201, new201, no403, no403, no403, no403)},
	{"GET", "/v1/users", fixed("/v1/users", nil), codes(ok200, ok200, ok200, no403, no403, no403)},
	{"GET", "/v1/users?agency=gov110", fixed("/v1/users?agency=gov110", nil), codes(ok200, ok200, no403, no403, no403, no403)},
	{"GET", "/v1/users/{username} (gov110 agent)", fixed("/v1/users/"+asAgent, nil), codes(ok200, ok200, no403, ok200, no403, no403)},
	{"GET", "/v1/users/{username} (another gov110 agent)", func(h *harness, _ string) (string, any) {
		return "/v1/users/" + h.freshAgent("gov110"), nil
	}, codes(ok200, ok200, no403, no403, no403, no403)},
	{"GET", "/v1/users/{username} (another admin)", func(h *harness, _ string) (string, any) {
		name := h.fresh("admin")
		h.mkUser(name, directory.RoleAdmin, "")
		return "/v1/users/" + name, nil
	}, codes(ok200, no403, no403, no403, no403, no403)},
	{"GET", "/v1/users/{username} (missing)", fixed("/v1/users/no-such-user", nil), codes(http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, no403, no403, no403)},
	{"GET", "/v1/users/{username} (self)", self(nil), codes(ok200, ok200, ok200, ok200, ok200, no403)},
	{"PATCH", "/v1/users/{username}", func(h *harness, _ string) (string, any) {
		return "/v1/users/" + h.freshAgent("gov110"), map[string]string{"name": "Renamed"}
	}, codes(ok200, ok200, no403, no403, no403, no403)},
	{"POST", "/v1/users (with export)", func(h *harness, as string) (string, any) {
		path, body := newUserBody(h, as)
		body.(map[string]any)["export"] = true
		return path, body
	}, codes(new201, no403, no403, no403, no403, no403)},
	{"PATCH", "/v1/users/{username} (grant export)", func(h *harness, _ string) (string, any) {
		return "/v1/users/" + h.freshAgent("gov110"), map[string]any{"export": true}
	}, codes(ok200, no403, no403, no403, no403, no403)},
	{"PATCH", "/v1/users/{username} (withdraw export)", func(h *harness, _ string) (string, any) {
		name := h.fresh("sup")
		h.mkUser(name, directory.RoleSupervisor, "gov110")
		if _, err := h.dir.UpdateUser(h.ctx(), name, directory.UserPatch{Export: new(true)}, "", nil); err != nil {
			h.t.Fatal(err)
		}
		return "/v1/users/" + name, map[string]any{"export": false}
	}, codes(ok200, no403, no403, no403, no403, no403)},
	// Of their own export, an admin decides; no one else does.
	{"PATCH", "/v1/users/{username} (self, withdraw export)", self(map[string]any{"export": false}), codes(ok200, no403, no403, no403, no403, no403)},
	{"PATCH", "/v1/users/{username} (self, name)", self(map[string]string{"name": "My New Name"}), codes(ok200, ok200, ok200, ok200, ok200, no403)},
	{"DELETE", "/v1/users/{username}", func(h *harness, _ string) (string, any) {
		return "/v1/users/" + h.freshAgent("gov110"), nil
	}, codes(gone204, gone204, no403, no403, no403, no403)},
	{"DELETE", "/v1/users/{username} (self)", self(nil), codes(dup409, dup409, dup409, dup409, dup409, no403)},
}

// TestRoles runs every directory route as every role and checks the status
// code, and the error shape of every refusal.
func TestRoles(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		for _, row := range roleTable {
			t.Run(row.method+" "+row.route, func(t *testing.T) {
				h := h.on(t)
				for _, as := range everyone {
					want, ok := row.want[as]
					if !ok {
						t.Fatalf("row has no expectation for %s", who(as))
					}
					path, body := row.target(h, as)
					r := h.do(row.method, path, as, body)
					switch want {
					case http.StatusUnauthorized:
						r.wantError(t, want, codeUnauthorized, "")
					case http.StatusForbidden:
						if r.wantStatus(t, want) {
							if e, ok := strictError(t, r); ok && e.Code != codeForbidden {
								t.Errorf("%s: code %q; want %q", r, e.Code, codeForbidden)
							}
						}
					case http.StatusNotFound:
						r.wantError(t, want, codeNotFound, "")
					case http.StatusConflict:
						r.wantError(t, want, codeConflict, "")
					default:
						r.wantStatus(t, want)
					}
				}
			})
		}
	})
}

// TestListsAreScoped checks what a list holds, not only that it answers.
func TestListsAreScoped(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		queues := func(as, query string) []string {
			t.Helper()
			var page listPage[directory.Queue]
			r := h.do(http.MethodGet, "/v1/queues"+query, as, nil)
			var ids []string
			if r.wantStatus(t, http.StatusOK) && r.decode(t, &page) {
				for _, q := range page.Items {
					ids = append(ids, q.ID)
				}
			}
			return ids
		}
		users := func(as, query string) []string {
			t.Helper()
			var page listPage[directory.User]
			r := h.do(http.MethodGet, "/v1/users"+query, as, nil)
			var names []string
			if r.wantStatus(t, http.StatusOK) && r.decode(t, &page) {
				for _, u := range page.Items {
					names = append(names, u.Username)
				}
			}
			return names
		}
		for _, c := range []struct {
			what string
			got  []string
			want []string
		}{
			{"queues as admin", queues(asAdmin, ""), []string{"gov110.general", "nts126.tax"}},
			{"queues as admin ?agency=nts126", queues(asAdmin, "?agency=nts126"), []string{"nts126.tax"}},
			{"queues as gov110 supervisor", queues(asSup, ""), []string{"gov110.general"}},
			{"queues as nts126 agent", queues(asOtherAgent, ""), []string{"nts126.tax"}},
			{"users as admin", users(asAdmin, ""), []string{asAdmin, asAgent, asGateway, asSup, asOtherAgent, asOtherSup}},
			{"users as admin ?role=agent", users(asAdmin, "?role=agent"), []string{asAgent, asOtherAgent}},
			{"users as gov110 supervisor", users(asSup, ""), []string{asAgent, asGateway, asSup}},
			{"users as nts126 supervisor ?role=supervisor", users(asOtherSup, "?role=supervisor"), []string{asOtherSup}},
		} {
			// Compared as sets: the order is the database collation's.
			got, want := slices.Sorted(slices.Values(c.got)), slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Errorf("%s = %q; want %q", c.what, got, want)
			}
		}
		h.do(http.MethodGet, "/v1/users?agency=nts126", asSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, "/v1/queues?agency=nts126", asAgent, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
	})
}

// TestSupervisorLimits checks what a supervisor may put into the users of
// their agency, and that a refusal changes nothing.
func TestSupervisorLimits(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		h.mkQueue("gov110", "tax-help")
		user := func(name, role, agency string, extra map[string]any) map[string]any {
			m := map[string]any{"username": name, "name": "N " + name, "password": testPassword, "role": role, "agency": agency}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}

		t.Run("create", func(t *testing.T) {
			h := h.on(t)
			for _, c := range []struct {
				name   string
				role   string
				agency string
				extra  map[string]any
				status int
				field  string
			}{
				{"agent of own agency", "agent", "gov110", map[string]any{"skills": map[string]int{"lang:ko": 5}, "queues": []map[string]any{{"queue": "gov110.tax-help", "level": 3}}, "max_chats": 4}, http.StatusCreated, ""},
				{"supervisor of own agency", "supervisor", "gov110", nil, http.StatusCreated, ""},
				{"agent of the other agency", "agent", "nts126", nil, http.StatusForbidden, "agency"},
				{"gateway of own agency", "gateway", "gov110", nil, http.StatusForbidden, "role"},
				{"admin", "admin", "", nil, http.StatusForbidden, "agency"},
				{"agent with pii", "agent", "gov110", map[string]any{"pii": true}, http.StatusForbidden, "pii"},
				{"supervisor with export", "supervisor", "gov110", map[string]any{"export": true}, http.StatusForbidden, "export"},
				{"supervisor without export", "supervisor", "gov110", map[string]any{"export": false}, http.StatusCreated, ""},
				{"agent in a queue of the other agency", "agent", "gov110", map[string]any{"queues": []map[string]any{{"queue": "gov110.general"}, {"queue": "nts126.tax"}}}, http.StatusForbidden, "queues[1].queue"},
			} {
				name := h.fresh("sv")
				before := h.snapshot()
				r := h.do(http.MethodPost, "/v1/users", asSup, user(name, c.role, c.agency, c.extra))
				if c.status == http.StatusCreated {
					if r.wantStatus(t, c.status) {
						if u, ok := h.getUser(name); !ok || u.Role != c.role || u.Agency != c.agency {
							t.Errorf("%s: created %+v (exists %v); want a %s of %s", c.name, u, ok, c.role, c.agency)
						}
					}
					continue
				}
				r.wantError(t, c.status, codeForbidden, c.field)
				h.unchanged(t, before, "refused create of "+c.name)
			}
			// The admin may do what the supervisor may not.
			h.do(http.MethodPost, "/v1/users", asAdmin, user(h.fresh("ad"), "agent", "gov110", map[string]any{
				"pii": true, "export": true, "queues": []map[string]any{{"queue": "nts126.tax"}},
			})).wantStatus(t, http.StatusCreated)
			h.do(http.MethodPost, "/v1/users", asAdmin, user(h.fresh("ad"), "gateway", "", nil)).wantStatus(t, http.StatusCreated)
		})

		t.Run("patch", func(t *testing.T) {
			h := h.on(t)
			for _, c := range []struct {
				name   string
				body   map[string]any
				status int
				field  string
			}{
				{"name, skills, queues, max_chats", map[string]any{"name": "Kim", "skills": map[string]int{"lang:en": 3}, "queues": []map[string]any{{"queue": "gov110.tax-help", "level": 4}}, "max_chats": 5}, http.StatusOK, ""},
				{"promote to supervisor", map[string]any{"role": "supervisor"}, http.StatusOK, ""},
				{"password", map[string]any{"password": "another-long-password"}, http.StatusOK, ""},
				{"pii unchanged", map[string]any{"pii": false, "name": "Lee"}, http.StatusOK, ""},
				{"role gateway", map[string]any{"name": "X", "role": "gateway"}, http.StatusForbidden, "role"},
				{"grant pii", map[string]any{"name": "X", "pii": true}, http.StatusForbidden, "pii"},
				{"export unchanged", map[string]any{"export": false, "name": "Lee"}, http.StatusOK, ""},
				{"grant export", map[string]any{"name": "X", "export": true}, http.StatusForbidden, "export"},
				{"queue of the other agency", map[string]any{"name": "X", "queues": []map[string]any{{"queue": "nts126.tax"}}}, http.StatusForbidden, "queues[0].queue"},
			} {
				name := h.freshAgent("gov110", "gov110.general")
				before := h.snapshot()
				h.clock.Advance(time.Second) // a write that slipped through would move updated_at
				r := h.do(http.MethodPatch, "/v1/users/"+name, asSup, c.body)
				if c.status == http.StatusOK {
					r.wantStatus(t, c.status)
					continue
				}
				r.wantError(t, c.status, codeForbidden, c.field)
				h.unchanged(t, before, "refused patch "+c.name)
			}
			// The other agency's supervisor may do none of it.
			name := h.freshAgent("gov110")
			h.do(http.MethodPatch, "/v1/users/"+name, asOtherSup, map[string]any{"name": "X"}).wantError(t, http.StatusForbidden, codeForbidden, "")
			h.do(http.MethodDelete, "/v1/users/"+name, asOtherSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		})

		t.Run("accounts a supervisor does not manage", func(t *testing.T) {
			h := h.on(t)
			admin2 := h.fresh("admin")
			h.mkUser(admin2, directory.RoleAdmin, "")
			for _, target := range []string{asGateway, asAdmin, admin2} {
				before := h.snapshot()
				h.do(http.MethodPatch, "/v1/users/"+target, asSup, map[string]string{"name": "X"}).wantError(t, http.StatusForbidden, codeForbidden, "")
				h.do(http.MethodPatch, "/v1/users/"+target, asSup, map[string]string{"password": "a-takeover-password"}).wantError(t, http.StatusForbidden, codeForbidden, "")
				h.do(http.MethodDelete, "/v1/users/"+target, asSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
				h.unchanged(t, before, "supervisor's writes to "+target)
			}
			h.login(asGateway, testPassword).wantStatus(t, http.StatusCreated)
			// Another supervisor of the same agency is managed.
			peer := h.fresh("sup")
			h.mkUser(peer, directory.RoleSupervisor, "gov110")
			h.do(http.MethodPatch, "/v1/users/"+peer, asSup, map[string]string{"name": "Peer"}).wantStatus(t, http.StatusOK)
			h.do(http.MethodDelete, "/v1/users/"+peer, asSup, nil).wantStatus(t, http.StatusNoContent)
		})

		t.Run("agent placed in a foreign queue by an admin", func(t *testing.T) {
			h := h.on(t)
			// An admin may place a gov110 agent in an nts126 queue; the
			// gov110 supervisor still manages that agent's other fields.
			name := h.freshAgent("gov110", "gov110.general", "nts126.tax")
			h.do(http.MethodPatch, "/v1/users/"+name, asSup, map[string]any{"name": "Park", "max_chats": 2}).wantStatus(t, http.StatusOK)
			if u, _ := h.getUser(name); u.Name != "Park" || len(u.Queues) != 2 {
				t.Errorf("after the supervisor's patch %s = %+v; want name Park and both queues kept", name, u)
			}
			// But cannot add a foreign queue of their own accord.
			h.do(http.MethodPatch, "/v1/users/"+name, asSup, map[string]any{"queues": []map[string]any{{"queue": "gov110.general"}, {"queue": "nts126.tax"}}}).
				wantError(t, http.StatusForbidden, codeForbidden, "queues[1].queue")
		})
	})
}

// TestAgentLimits: an agent may change only its own name and password.
func TestAgentLimits(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		name := h.freshAgent("gov110", "gov110.general")
		h.tokens[name] = h.loginToken(name, testPassword)
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"role": "supervisor"}, "role"},
			{map[string]any{"skills": map[string]int{"lang:ko": 9}}, "skills"},
			{map[string]any{"queues": []map[string]any{{"queue": "gov110.general", "level": 9}}}, "queues"},
			{map[string]any{"max_chats": 9}, "max_chats"},
			{map[string]any{"pii": true}, "pii"},
			{map[string]any{"name": "Sneaky", "pii": false}, "pii"},
			{map[string]any{"export": true}, "export"},
			{map[string]any{"name": "Sneaky", "export": false}, "export"},
			{map[string]any{"sip_uri": "sip:me@pbx.example"}, "sip_uri"},
		} {
			before := h.snapshot()
			h.clock.Advance(time.Second)
			h.do(http.MethodPatch, "/v1/users/"+name, name, c.body).wantError(t, http.StatusForbidden, codeForbidden, c.field)
			h.unchanged(t, before, "agent's own patch of "+c.field)
		}
		r := h.do(http.MethodPatch, "/v1/users/"+name, name, map[string]any{"name": "  Choi  "})
		var u directory.User
		if r.wantStatus(t, http.StatusOK) && r.decode(t, &u) && u.Name != "Choi" {
			t.Errorf("%s: name %q; want %q (trimmed)", r, u.Name, "Choi")
		}
		// Reading: own profile, own agency's queues, nobody else.
		h.do(http.MethodGet, "/v1/users/"+name, name, nil).wantStatus(t, http.StatusOK)
		h.do(http.MethodGet, "/v1/users/"+asAgent, name, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, "/v1/users/"+asSup, name, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodPatch, "/v1/users/"+asAgent, name, map[string]string{"name": "X"}).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodDelete, "/v1/users/"+asAgent, name, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		// An agent learns nothing from a name that does not exist.
		h.do(http.MethodGet, "/v1/users/no-such-user", name, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodPatch, "/v1/users/no-such-user", name, map[string]string{"name": "X"}).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodDelete, "/v1/users/no-such-user", name, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		// Nor does a gateway, whose account is not for the directory at all.
		h.do(http.MethodPatch, "/v1/users/"+asGateway, asGateway, map[string]string{"password": "a-new-gateway-secret"}).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, "/v1/users/no-such-user", asGateway, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodPatch, "/v1/users/"+asAgent, asGateway, rawBody(`{"name":""}`)).wantError(t, http.StatusForbidden, codeForbidden, "")
	})
}

package web

import (
	"net/http"
	"testing"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// An agent's sip_uri goes through the users API to the router, whose
// connect frames carry it; a bad one is refused naming the field; only
// admins and the agent's agency's supervisors read it.
func TestUserSIPURIThroughTheAPI(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		name := h.fresh("phone")
		body := map[string]any{"username": name, "name": "Phone Agent", "password": testPassword, "role": "agent",
			"agency": "gov110", "queues": []map[string]any{{"queue": "gov110.general"}}, "sip_uri": "sip:" + name + "@pbx.gov110.go.kr"}
		before := h.snapshot()
		bad := map[string]any{}
		for k, v := range body {
			bad[k] = v
		}
		bad["sip_uri"] = "tel:+8221234567"
		h.do(http.MethodPost, "/v1/users", asSup, bad).wantError(t, http.StatusBadRequest, codeValidation, "sip_uri")
		h.unchanged(t, before, "a user with a bad sip_uri")

		var u directory.User
		if r := h.do(http.MethodPost, "/v1/users", asSup, body); !r.wantStatus(t, http.StatusCreated) || !r.decode(t, &u) {
			return
		}
		if u.SIPURI != body["sip_uri"] {
			t.Errorf("created user's sip_uri = %q", u.SIPURI)
		}
		if a, err := h.router.Agent(name); err != nil || a.Phone != body["sip_uri"] {
			t.Errorf("router's agent phone = %q, %v; want %q", a.Phone, err, body["sip_uri"])
		}
		h.do(http.MethodPatch, "/v1/users/"+name, asSup, map[string]any{"sip_uri": "sip:x@"}).
			wantError(t, http.StatusBadRequest, codeValidation, "sip_uri")
		if r := h.do(http.MethodPatch, "/v1/users/"+name, asAdmin, map[string]any{"sip_uri": ""}); r.wantStatus(t, http.StatusOK) {
			if a, _ := h.router.Agent(name); a.Phone != "" {
				t.Errorf("router's agent phone = %q after removing it", a.Phone)
			}
		}
		// Another agency's supervisor does not read the user at all.
		h.do(http.MethodGet, "/v1/users/"+name, asOtherSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
	})
}

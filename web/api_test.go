package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// badRequest is one request the contract answers with 400 validation and
// the named field.
type badRequest struct {
	name   string
	method string
	path   string
	body   any
	field  string
}

func queueBody(slug string, extra map[string]any) map[string]any {
	m := map[string]any{"id": slug, "name": "Queue " + slug}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func userBody(username string, extra map[string]any) map[string]any {
	m := map[string]any{"username": username, "name": "User " + username, "password": testPassword, "role": "agent", "agency": "gov110"}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func validationCases() []badRequest {
	const (
		agencies = "/v1/agencies"
		queues   = "/v1/agencies/gov110/queues"
		users    = "/v1/users"
		general  = "/v1/queues/gov110.general"
		agent    = "/v1/users/" + asAgent
	)
	q := func(extra map[string]any) map[string]any { return queueBody("checked", extra) }
	u := func(extra map[string]any) map[string]any { return userBody("checked-user", extra) }
	long := strings.Repeat("가", directory.MaxNameLen+1)
	return []badRequest{
		// Agencies.
		{"agency id uppercase", "POST", agencies, map[string]string{"id": "Gov110x", "name": "N"}, "id"},
		{"agency id one character", "POST", agencies, map[string]string{"id": "a", "name": "N"}, "id"},
		{"agency id leading dash", "POST", agencies, map[string]string{"id": "-abc", "name": "N"}, "id"},
		{"agency id too long", "POST", agencies, map[string]string{"id": strings.Repeat("a", 33), "name": "N"}, "id"},
		{"agency id with a dot", "POST", agencies, map[string]string{"id": "gov.110", "name": "N"}, "id"},
		{"agency id missing", "POST", agencies, map[string]string{"name": "N"}, "id"},
		{"agency name missing", "POST", agencies, map[string]string{"id": "ok-agency"}, "name"},
		{"agency name blank", "POST", agencies, map[string]string{"id": "ok-agency", "name": "  \t"}, "name"},
		{"agency name too long", "POST", agencies, map[string]string{"id": "ok-agency", "name": long}, "name"},
		{"agency description too long", "POST", agencies, map[string]string{"id": "ok-agency", "name": "N", "description": strings.Repeat("d", directory.MaxDescriptionLen+1)}, "description"},
		{"agency patch name empty", "PATCH", "/v1/agencies/gov110", map[string]string{"name": ""}, "name"},
		{"agency patch description too long", "PATCH", "/v1/agencies/gov110", map[string]string{"description": strings.Repeat("d", directory.MaxDescriptionLen+1)}, "description"},

		// Queues.
		{"queue id uppercase", "POST", queues, queueBody("General", nil), "id"},
		{"queue id with the agency", "POST", queues, queueBody("gov110.general2", nil), "id"},
		{"queue id empty", "POST", queues, queueBody("", nil), "id"},
		{"queue name missing", "POST", queues, map[string]any{"id": "checked"}, "name"},
		{"queue name blank", "POST", queues, q(map[string]any{"name": " "}), "name"},
		{"channels empty", "POST", queues, q(map[string]any{"channels": []string{}}), "channels"},
		{"channels unknown", "POST", queues, q(map[string]any{"channels": []string{"voice", "fax"}}), "channels[1]"},
		{"channels duplicate", "POST", queues, q(map[string]any{"channels": []string{"chat", "voice", "chat"}}), "channels[2]"},
		{"offer_timeout_s below 5", "POST", queues, q(map[string]any{"offer_timeout_s": 4}), "offer_timeout_s"},
		{"offer_timeout_s above 120", "POST", queues, q(map[string]any{"offer_timeout_s": 121}), "offer_timeout_s"},
		{"wrapup_s negative", "POST", queues, q(map[string]any{"wrapup_s": -1}), "wrapup_s"},
		{"wrapup_s above 600", "POST", queues, q(map[string]any{"wrapup_s": 601}), "wrapup_s"},
		{"widen_after_s negative", "POST", queues, q(map[string]any{"widen_after_s": -1}), "widen_after_s"},
		{"callback_after_s negative", "POST", queues, q(map[string]any{"callback_after_s": -5}), "callback_after_s"},
		{"max_waiting negative", "POST", queues, q(map[string]any{"max_waiting": -1}), "max_waiting"},
		{"kind unknown", "POST", queues, q(map[string]any{"kind": "citizen"}), "kind"},
		{"kind empty", "POST", queues, q(map[string]any{"kind": ""}), "kind"},
		{"kind in capitals", "POST", queues, q(map[string]any{"kind": "Interpreter"}), "kind"},
		{"callback_retries negative", "POST", queues, q(map[string]any{"callback_retries": -1}), "callback_retries"},
		{"callback_retries above 10", "POST", queues, q(map[string]any{"callback_retries": 11}), "callback_retries"},
		{"callback_retry_s below 30", "POST", queues, q(map[string]any{"callback_retry_s": 29}), "callback_retry_s"},
		{"callback_retry_s zero", "POST", queues, q(map[string]any{"callback_retry_s": 0}), "callback_retry_s"},
		{"callback_retry_s above 86400", "POST", queues, q(map[string]any{"callback_retry_s": 86401}), "callback_retry_s"},
		{"interpreter queue public", "POST", queues, q(map[string]any{"kind": "interpreter", "public": true}), "public"},
		{"interpreter queue with callbacks", "POST", queues, q(map[string]any{"kind": "interpreter", "channels": []string{"chat", "callback"}}), "channels"},
		{"interpreter queue only callbacks", "POST", queues, q(map[string]any{"kind": "interpreter", "public": false, "channels": []string{"callback"}}), "channels"},
		{"strategy unknown", "POST", queues, q(map[string]any{"strategy": "random"}), "strategy"},
		{"sla.answer_within_s zero", "POST", queues, q(map[string]any{"sla": map[string]int{"answer_within_s": 0, "target_pct": 80}}), "sla.answer_within_s"},
		{"sla.target_pct above 100", "POST", queues, q(map[string]any{"sla": map[string]int{"answer_within_s": 20, "target_pct": 101}}), "sla.target_pct"},
		{"sla.target_pct zero", "POST", queues, q(map[string]any{"sla": map[string]int{"answer_within_s": 20}}), "sla.target_pct"},
		{"overflow to malformed", "POST", queues, q(map[string]any{"overflow": []map[string]any{{"after_s": 30, "to": "general"}}}), "overflow[0].to"},
		{"overflow to nonexistent", "POST", queues, q(map[string]any{"overflow": []map[string]any{{"after_s": 30, "to": "gov110.nowhere"}}}), "overflow[0].to"},
		{"overflow second to nonexistent", "POST", queues, q(map[string]any{"overflow": []map[string]any{{"after_s": 30, "to": "nts126.tax"}, {"after_s": 60, "to": "nts126.nowhere"}}}), "overflow[1].to"},
		{"overflow to self", "POST", queues, q(map[string]any{"overflow": []map[string]any{{"after_s": 30, "to": "gov110.checked"}}}), "overflow[0].to"},
		{"overflow duplicate", "POST", queues, q(map[string]any{"overflow": []map[string]any{{"after_s": 30, "to": "nts126.tax"}, {"after_s": 60, "to": "nts126.tax"}}}), "overflow[1].to"},
		{"overflow after_s negative", "POST", queues, q(map[string]any{"overflow": []map[string]any{{"after_s": -1, "to": "nts126.tax"}}}), "overflow[0].after_s"},
		{"overflow_policy unknown", "POST", queues, q(map[string]any{"overflow_policy": "everyone"}), "overflow_policy"},
		{"help_while.min_idle negative", "POST", queues, q(map[string]any{"help_while": map[string]int{"min_idle": -1}}), "help_while.min_idle"},
		{"help_while.min_idle above 10000", "PATCH", general, map[string]any{"help_while": map[string]int{"min_idle": 10001}}, "help_while.min_idle"},
		{"required_skills key uppercase", "POST", queues, q(map[string]any{"required_skills": map[string]int{"Lang:KO": 3}}), "required_skills.Lang:KO"},
		{"required_skills key with a space", "POST", queues, q(map[string]any{"required_skills": map[string]int{"lang ko": 3}}), "required_skills.lang ko"},
		{"required_skills level zero", "POST", queues, q(map[string]any{"required_skills": map[string]int{"lang:ko": 0}}), "required_skills.lang:ko"},
		{"required_skills level above 10", "POST", queues, q(map[string]any{"required_skills": map[string]int{"lang:ko": 11}}), "required_skills.lang:ko"},
		{"queue patch name empty", "PATCH", general, map[string]any{"name": ""}, "name"},
		{"queue patch offer_timeout_s", "PATCH", general, map[string]any{"offer_timeout_s": 200}, "offer_timeout_s"},
		{"queue patch wrapup_s", "PATCH", general, map[string]any{"wrapup_s": 601}, "wrapup_s"},
		{"queue patch channels empty", "PATCH", general, map[string]any{"channels": []string{}}, "channels"},
		{"queue patch overflow to self", "PATCH", general, map[string]any{"overflow": []map[string]any{{"after_s": 10, "to": "gov110.general"}}}, "overflow[0].to"},
		{"queue patch overflow to nonexistent", "PATCH", general, map[string]any{"overflow": []map[string]any{{"after_s": 10, "to": "nts126.nowhere"}}}, "overflow[0].to"},
		{"queue patch sla", "PATCH", general, map[string]any{"sla": map[string]int{"answer_within_s": 20, "target_pct": 0}}, "sla.target_pct"},
		{"queue patch kind unknown", "PATCH", general, map[string]any{"kind": "interpreters"}, "kind"},
		{"queue patch callback_retries", "PATCH", general, map[string]any{"callback_retries": 11}, "callback_retries"},
		{"queue patch callback_retry_s", "PATCH", general, map[string]any{"callback_retry_s": 29}, "callback_retry_s"},
		// The rules of an interpreter queue hold on the patched result.
		{"queue patch to interpreter while public", "PATCH", general, map[string]any{"kind": "interpreter"}, "public"},
		{"queue patch to interpreter with callbacks", "PATCH", general, map[string]any{"kind": "interpreter", "public": false, "channels": []string{"voice", "callback"}}, "channels"},

		// Users.
		{"username uppercase", "POST", users, userBody("Kim", nil), "username"},
		{"username one character", "POST", users, userBody("k", nil), "username"},
		{"username with a space", "POST", users, userBody("kim min", nil), "username"},
		{"username missing", "POST", users, userBody("", nil), "username"},
		{"user name missing", "POST", users, u(map[string]any{"name": nil}), "name"},
		{"password short", "POST", users, u(map[string]any{"password": "short"}), "password"},
		{"password missing", "POST", users, u(map[string]any{"password": nil}), "password"},
		{"password too long", "POST", users, u(map[string]any{"password": strings.Repeat("p", directory.MaxPasswordLen+1)}), "password"},
		{"role unknown", "POST", users, u(map[string]any{"role": "root"}), "role"},
		{"role missing", "POST", users, u(map[string]any{"role": nil}), "role"},
		{"agency missing for agent", "POST", users, u(map[string]any{"agency": nil}), "agency"},
		{"agency missing for supervisor", "POST", users, u(map[string]any{"role": "supervisor", "agency": ""}), "agency"},
		{"agency set for admin", "POST", users, u(map[string]any{"role": "admin"}), "agency"},
		{"agency malformed", "POST", users, u(map[string]any{"agency": "Gov 110"}), "agency"},
		{"agency nonexistent", "POST", users, u(map[string]any{"agency": "nowhere"}), "agency"},
		{"queues[0].queue nonexistent", "POST", users, u(map[string]any{"queues": []map[string]any{{"queue": "gov110.nowhere"}}}), "queues[0].queue"},
		{"queues[1].queue nonexistent", "POST", users, u(map[string]any{"queues": []map[string]any{{"queue": "gov110.general"}, {"queue": "gov110.nowhere"}}}), "queues[1].queue"},
		{"queues[0].queue malformed", "POST", users, u(map[string]any{"queues": []map[string]any{{"queue": "general"}}}), "queues[0].queue"},
		{"queues duplicate", "POST", users, u(map[string]any{"queues": []map[string]any{{"queue": "gov110.general"}, {"queue": "gov110.general", "level": 2}}}), "queues[1].queue"},
		{"queues[0].level above 10", "POST", users, u(map[string]any{"queues": []map[string]any{{"queue": "gov110.general", "level": 11}}}), "queues[0].level"},
		{"queues[0].level negative", "POST", users, u(map[string]any{"queues": []map[string]any{{"queue": "gov110.general", "level": -1}}}), "queues[0].level"},
		{"max_chats above 20", "POST", users, u(map[string]any{"max_chats": 21}), "max_chats"},
		{"max_chats negative", "POST", users, u(map[string]any{"max_chats": -1}), "max_chats"},
		{"skills key malformed", "POST", users, u(map[string]any{"skills": map[string]int{"lang:": 3}}), "skills.lang:"},
		{"skills level zero", "POST", users, u(map[string]any{"skills": map[string]int{"lang:ko": 0}}), "skills.lang:ko"},
		{"user patch name empty", "PATCH", agent, map[string]any{"name": ""}, "name"},
		{"user patch password short", "PATCH", agent, map[string]any{"password": "short"}, "password"},
		{"user patch role unknown", "PATCH", agent, map[string]any{"role": "root"}, "role"},
		{"user patch role admin of an agency", "PATCH", agent, map[string]any{"role": "admin"}, "role"},
		{"user patch role supervisor of no agency", "PATCH", "/v1/users/" + asAdmin, map[string]any{"role": "supervisor"}, "role"},
		{"user patch max_chats", "PATCH", agent, map[string]any{"max_chats": 99}, "max_chats"},
		{"user patch skills level", "PATCH", agent, map[string]any{"skills": map[string]int{"lang:ko": 11}}, "skills.lang:ko"},
		{"user patch queue nonexistent", "PATCH", agent, map[string]any{"queues": []map[string]any{{"queue": "gov110.nowhere"}}}, "queues[0].queue"},
		{"user patch queue level", "PATCH", agent, map[string]any{"queues": []map[string]any{{"queue": "gov110.general", "level": 11}}}, "queues[0].level"},

		// The JSON itself.
		{"unknown field", "POST", agencies, map[string]string{"id": "ok-agency", "name": "N", "colour": "red"}, "colour"},
		{"unknown field in a patch", "PATCH", general, map[string]any{"name": "N", "priority": 3}, "priority"},
		{"unknown field in a user", "POST", users, u(map[string]any{"agency_id": "gov110"}), "agency_id"},
		{"wrong type: string for number", "POST", queues, q(map[string]any{"offer_timeout_s": "20"}), "offer_timeout_s"},
		{"wrong type: number for string", "POST", agencies, map[string]any{"id": 110, "name": "N"}, "id"},
		{"wrong type: nested", "POST", queues, q(map[string]any{"sla": map[string]any{"answer_within_s": 20, "target_pct": "80"}}), "sla.target_pct"},
		{"wrong type: list for object", "POST", queues, q(map[string]any{"sla": []int{20, 80}}), "sla"},
		{"wrong type: string for list", "POST", queues, q(map[string]any{"channels": "voice"}), "channels"},
		{"wrong type: bool for number", "PATCH", agent, map[string]any{"max_chats": true}, "max_chats"},
		{"wrong type: fraction", "POST", queues, q(map[string]any{"wrapup_s": 1.5}), "wrapup_s"},
		{"wrong type: number for kind", "POST", queues, q(map[string]any{"kind": 1}), "kind"},
		{"wrong type: string for callback_retries", "PATCH", general, map[string]any{"callback_retries": "2"}, "callback_retries"},
		{"wrong type: fraction of callback_retry_s", "POST", queues, q(map[string]any{"callback_retry_s": 60.5}), "callback_retry_s"},
		{"wrong type: huge number", "POST", queues, q(map[string]any{"wrapup_s": 1e40}), "wrapup_s"},
		{"malformed JSON", "POST", agencies, rawBody(`{"id": "ok-agency", "name": }`), ""},
		{"truncated JSON", "POST", agencies, rawBody(`{"id": "ok-agency"`), ""},
		{"trailing object", "POST", agencies, rawBody(`{"id": "ok-agency", "name": "N"} {}`), ""},
		{"trailing garbage", "POST", agencies, rawBody(`{"id": "ok-agency", "name": "N"}x`), ""},
		{"trailing garbage in a patch", "PATCH", general, rawBody(`{"name": "N"},`), ""},
		{"empty body", "POST", agencies, rawBody(``), ""},
		{"only whitespace", "POST", users, rawBody(" \n\t"), ""},
		{"a list, not an object", "POST", agencies, rawBody(`[{"id": "ok-agency", "name": "N"}]`), ""},
		{"a string, not an object", "PATCH", agent, rawBody(`"name"`), ""},
		{"null body", "POST", agencies, rawBody(`null`), "id"},
	}
}

// TestValidation sends each bad request as admin and checks the 400, its
// field, and that nothing changed.
func TestValidation(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		for _, c := range validationCases() {
			t.Run(c.name, func(t *testing.T) {
				h := h.on(t)
				before := h.snapshot()
				h.clock.Advance(time.Second)
				h.do(c.method, c.path, asAdmin, c.body).wantError(t, http.StatusBadRequest, codeValidation, c.field)
				h.unchanged(t, before, c.name)
			})
		}
		// The boundaries themselves are accepted.
		for i, extra := range []map[string]any{
			{"offer_timeout_s": 5, "wrapup_s": 0, "sla": map[string]int{"answer_within_s": 1, "target_pct": 1}},
			{"offer_timeout_s": 120, "wrapup_s": 600, "sla": map[string]int{"answer_within_s": 3600, "target_pct": 100}},
			{"channels": []string{"callback"}, "strategy": "best-skill", "required_skills": map[string]int{"lang:ko": 1, "topic:tax": 10}, "overflow_policy": "oldest-first"},
			{"kind": "service", "callback_retries": 0, "callback_retry_s": 30, "help_while": map[string]int{"min_idle": 10000}},
			{"callback_retries": 10, "callback_retry_s": 86400},
			{"kind": "interpreter", "public": false, "channels": []string{"chat", "voice"}},
			{"kind": "interpreter", "channels": []string{"voice"}},
		} {
			h.do(http.MethodPost, "/v1/agencies/gov110/queues", asAdmin, queueBody(fmt.Sprintf("edge-%d", i), extra)).wantStatus(t, http.StatusCreated)
		}
		h.do(http.MethodPost, "/v1/users", asAdmin, userBody("edge-user", map[string]any{"max_chats": 0, "skills": map[string]int{"lang:ko": 10}})).wantStatus(t, http.StatusCreated)
	})
}

// TestBodyLimit checks 413 too_large on every route that reads a body, and
// that nothing was created.
func TestBodyLimit(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		huge := strings.Repeat("x", int(h.cfg.MaxBodyBytes))
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/v1/agencies", `{"id":"big-agency","name":"Big","description":"` + huge + `"}`},
			{"PATCH", "/v1/agencies/gov110", `{"description":"` + huge + `"}`},
			{"POST", "/v1/agencies/gov110/queues", `{"id":"big","name":"` + huge + `"}`},
			{"PATCH", "/v1/queues/gov110.general", `{"name":"` + huge + `"}`},
			{"POST", "/v1/users", `{"username":"big-user","name":"` + huge + `","password":"` + testPassword + `","role":"agent","agency":"gov110"}`},
			{"PATCH", "/v1/users/" + asAgent, `{"name":"` + huge + `"}`},
			// A small object followed by more data than the limit allows.
			{"POST", "/v1/agencies", `{"id":"big-agency","name":"Big"}` + strings.Repeat(" ", int(h.cfg.MaxBodyBytes))},
		} {
			before := h.snapshot()
			h.clock.Advance(time.Second)
			h.do(c.method, c.path, asAdmin, rawBody(c.body)).wantError(t, http.StatusRequestEntityTooLarge, codeTooLarge, "")
			h.unchanged(t, before, c.method+" "+c.path+" over the limit")
		}
		// Just under the limit is fine.
		desc := strings.Repeat("d", directory.MaxDescriptionLen)
		h.do(http.MethodPatch, "/v1/agencies/gov110", asAdmin, map[string]string{"description": desc}).wantStatus(t, http.StatusOK)
	})
}

func TestBadPageParameters(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		long := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("a", 201)))
		for _, path := range []string{"/v1/agencies", "/v1/queues", "/v1/users"} {
			for _, c := range []struct{ query, field string }{
				{"limit=0", "limit"}, {"limit=-1", "limit"}, {"limit=501", "limit"}, {"limit=ten", "limit"},
				{"limit=1.5", "limit"}, {"limit=99999999999999999999", "limit"},
				{"cursor=!!!", "cursor"}, {"cursor=a%20b", "cursor"}, {"cursor=" + long, "cursor"},
			} {
				h.do(http.MethodGet, path+"?"+c.query, asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, c.field)
			}
			h.do(http.MethodGet, path+"?limit=500", asAdmin, nil).wantStatus(t, http.StatusOK)
			h.do(http.MethodGet, path+"?limit=1&cursor=", asAdmin, nil).wantStatus(t, http.StatusOK)
		}
		h.do(http.MethodGet, "/v1/users?role=boss", asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, "role")
	})
}

func TestConflicts(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		h.mkAgency("users-only")
		h.mkUser("lonely-agent", directory.RoleAgent, "users-only")
		h.mkAgency("queues-only")
		h.mkQueue("queues-only", "line")
		target := h.mkQueue("gov110", "target")
		h.mkQueue("nts126", "spill", target.ID)
		h.mkUser("member", directory.RoleAgent, "gov110", target.ID, "gov110.general")

		for _, c := range []struct {
			name         string
			method, path string
			as           string
			body         any
		}{
			{"duplicate agency", "POST", "/v1/agencies", asAdmin, map[string]string{"id": "gov110", "name": "Again"}},
			{"duplicate queue", "POST", "/v1/agencies/gov110/queues", asAdmin, queueBody("general", nil)},
			{"duplicate queue by its supervisor", "POST", "/v1/agencies/gov110/queues", asSup, queueBody("general", map[string]any{"name": "Other name"})},
			{"duplicate user", "POST", "/v1/users", asAdmin, userBody(asAgent, map[string]any{"name": "Someone else"})},
			{"duplicate user of another agency", "POST", "/v1/users", asAdmin, userBody(asOtherAgent, nil)},
			{"agency with queues and users", "DELETE", "/v1/agencies/gov110", asAdmin, nil},
			{"agency with users only", "DELETE", "/v1/agencies/users-only", asAdmin, nil},
			{"agency with queues only", "DELETE", "/v1/agencies/queues-only", asAdmin, nil},
			{"queue that is an overflow target", "DELETE", "/v1/queues/" + target.ID, asAdmin, nil},
			{"queue that is an overflow target, by its supervisor", "DELETE", "/v1/queues/" + target.ID, asSup, nil},
			{"the last admin demoted", "PATCH", "/v1/users/" + asAdmin, asAdmin, map[string]string{"role": "gateway", "name": "Demoted"}},
			{"deleting yourself as admin", "DELETE", "/v1/users/" + asAdmin, asAdmin, nil},
			{"deleting yourself as supervisor", "DELETE", "/v1/users/" + asSup, asSup, nil},
			{"deleting yourself as agent", "DELETE", "/v1/users/" + asAgent, asAgent, nil},
		} {
			before := h.snapshot()
			h.clock.Advance(time.Second)
			h.do(c.method, c.path, c.as, c.body).wantError(t, http.StatusConflict, codeConflict, "")
			h.unchanged(t, before, c.name)
		}
		// The refused delete left the target and its memberships alone.
		if q, ok := h.getQueue(target.ID); !ok || q.Name != target.Name {
			t.Errorf("queue %s after the refused delete: %+v (exists %v)", target.ID, q, ok)
		}
		if u, _ := h.getUser("member"); len(u.Queues) != 2 {
			t.Errorf("member's queues after the refused delete of %s: %+v; want both kept", target.ID, u.Queues)
		}

		// With a second admin, one may be demoted and then deleted; the
		// last one left is kept.
		h.mkUser("admin2", directory.RoleAdmin, "")
		h.tokens["admin2"] = h.loginToken("admin2", testPassword)
		h.do(http.MethodPatch, "/v1/users/"+asAdmin, "admin2", map[string]string{"role": "gateway"}).wantStatus(t, http.StatusOK)
		h.do(http.MethodPatch, "/v1/users/admin2", "admin2", map[string]string{"role": "gateway"}).wantError(t, http.StatusConflict, codeConflict, "")
		h.do(http.MethodDelete, "/v1/users/"+asAdmin, "admin2", nil).wantStatus(t, http.StatusNoContent)
		if u, ok := h.readBackAs("admin2", "admin2"); !ok || u.Role != directory.RoleAdmin {
			t.Errorf("admin2 after the refused self-demotion: %+v (exists %v); want still admin", u, ok)
		}

		// Once the overflow rule is gone, the queue may go.
		h.tokens[asAdmin] = h.tokens["admin2"]
		h.do(http.MethodPatch, "/v1/queues/nts126.spill", asAdmin, map[string]any{"overflow": []any{}}).wantStatus(t, http.StatusOK)
		h.do(http.MethodDelete, "/v1/queues/"+target.ID, asAdmin, nil).wantStatus(t, http.StatusNoContent)
		// And an emptied agency too.
		h.do(http.MethodDelete, "/v1/users/lonely-agent", asAdmin, nil).wantStatus(t, http.StatusNoContent)
		h.do(http.MethodDelete, "/v1/agencies/users-only", asAdmin, nil).wantStatus(t, http.StatusNoContent)
		if _, ok := h.getAgency("users-only"); ok {
			t.Errorf("agency users-only still exists after its delete")
		}
	})
}

// readBackAs reads a user as principal as.
func (h *harness) readBackAs(as, username string) (directory.User, bool) {
	h.t.Helper()
	var u directory.User
	r := h.do(http.MethodGet, "/v1/users/"+username, as, nil)
	if r.status != http.StatusOK {
		return u, false
	}
	return u, r.decode(h.t, &u)
}

func TestNotFound(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/agencies/nowhere", nil},
			{"PATCH", "/v1/agencies/nowhere", map[string]string{"name": "N"}},
			{"DELETE", "/v1/agencies/nowhere", nil},
			{"POST", "/v1/agencies/nowhere/queues", queueBody("line", nil)},
			{"GET", "/v1/queues/gov110.nowhere", nil},
			{"GET", "/v1/queues/nowhere.line", nil},
			{"GET", "/v1/queues/not-a-queue-id", nil},
			{"PATCH", "/v1/queues/gov110.nowhere", map[string]string{"name": "N"}},
			{"DELETE", "/v1/queues/gov110.nowhere", nil},
			{"GET", "/v1/users/nobody", nil},
			{"PATCH", "/v1/users/nobody", map[string]string{"name": "N"}},
			{"DELETE", "/v1/users/nobody", nil},
		} {
			before := h.snapshot()
			h.do(c.method, c.path, asAdmin, c.body).wantError(t, http.StatusNotFound, codeNotFound, "")
			h.unchanged(t, before, c.method+" "+c.path)
		}
		// A supervisor gets 404 for a missing queue of their own agency.
		h.do(http.MethodPatch, "/v1/queues/gov110.nowhere", asSup, map[string]string{"name": "N"}).wantError(t, http.StatusNotFound, codeNotFound, "")
	})
}

// TestNothingHalfApplied: requests that pass the first checks and fail
// later, inside the transaction, leave no trace.
func TestNothingHalfApplied(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		h.mkQueue("gov110", "spill", "gov110.general")

		t.Run("user create with a missing queue", func(t *testing.T) {
			h := h.on(t)
			before := h.snapshot()
			h.do(http.MethodPost, "/v1/users", asAdmin, userBody("half-user", map[string]any{
				"queues": []map[string]any{{"queue": "gov110.general", "level": 3}, {"queue": "gov110.nowhere"}},
			})).wantError(t, http.StatusBadRequest, codeValidation, "queues[1].queue")
			if _, ok := h.getUser("half-user"); ok {
				t.Errorf("half-user exists after the refused create")
			}
			h.unchanged(t, before, "refused user create")
			h.login("half-user", testPassword).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			// The same name is free afterwards.
			h.do(http.MethodPost, "/v1/users", asAdmin, userBody("half-user", nil)).wantStatus(t, http.StatusCreated)
		})

		t.Run("queue create with a missing overflow target", func(t *testing.T) {
			h := h.on(t)
			before := h.snapshot()
			h.do(http.MethodPost, "/v1/agencies/gov110/queues", asAdmin, queueBody("half", map[string]any{
				"overflow": []map[string]any{{"after_s": 30, "to": "gov110.general"}, {"after_s": 60, "to": "nts126.nowhere"}},
			})).wantError(t, http.StatusBadRequest, codeValidation, "overflow[1].to")
			h.unchanged(t, before, "refused queue create")
			// Nothing points at general from a half-made queue: no 409.
			h.do(http.MethodPost, "/v1/agencies/gov110/queues", asAdmin, queueBody("half", nil)).wantStatus(t, http.StatusCreated)
		})

		t.Run("queue patch with a valid name and a bad overflow", func(t *testing.T) {
			h := h.on(t)
			for _, c := range []struct {
				overflow []map[string]any
				field    string
			}{
				{[]map[string]any{{"after_s": 30, "to": "nts126.tax"}, {"after_s": 60, "to": "nts126.nowhere"}}, "overflow[1].to"},
				{[]map[string]any{{"after_s": 30, "to": "bad id"}}, "overflow[0].to"},
				{[]map[string]any{{"after_s": 30, "to": "gov110.spill"}}, "overflow[0].to"},
			} {
				before := h.snapshot()
				h.clock.Advance(time.Second)
				h.do(http.MethodPatch, "/v1/queues/gov110.spill", asAdmin, map[string]any{
					"name": "Renamed", "offer_timeout_s": 60, "overflow": c.overflow,
				}).wantError(t, http.StatusBadRequest, codeValidation, c.field)
				h.unchanged(t, before, "refused queue patch")
			}
			q, _ := h.getQueue("gov110.spill")
			if q.Name != "Queue spill" || q.OfferTimeoutS != directory.DefaultOfferTimeoutS ||
				len(q.Overflow) != 1 || q.Overflow[0].To != "gov110.general" {
				t.Errorf("gov110.spill after refused patches = %+v; want it unchanged", q)
			}
		})

		t.Run("queue delete refused for overflow", func(t *testing.T) {
			h := h.on(t)
			member := h.freshAgent("gov110", "gov110.general")
			before := h.snapshot()
			h.do(http.MethodDelete, "/v1/queues/gov110.general", asSup, nil).wantError(t, http.StatusConflict, codeConflict, "")
			h.unchanged(t, before, "refused queue delete")
			if u, _ := h.getUser(member); len(u.Queues) != 1 || u.Queues[0].Queue != "gov110.general" {
				t.Errorf("%s's queues after the refused delete = %+v; want gov110.general kept", member, u.Queues)
			}
		})

		t.Run("user patch refused for pii", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110")
			before := h.snapshot()
			h.clock.Advance(time.Second)
			h.do(http.MethodPatch, "/v1/users/"+name, asSup, map[string]any{"name": "Renamed", "pii": true}).
				wantError(t, http.StatusForbidden, codeForbidden, "pii")
			h.unchanged(t, before, "refused pii patch")
			if u, _ := h.getUser(name); u.Name != "User "+name || u.PII {
				t.Errorf("%s after the refused patch = %+v; want name and pii unchanged", name, u)
			}
		})

		t.Run("user patch failing on its queues after the row was written", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110", "gov110.general")
			tok := h.loginToken(name, testPassword)
			before := h.snapshot()
			h.clock.Advance(time.Second)
			h.do(http.MethodPatch, "/v1/users/"+name, asAdmin, map[string]any{
				"name": "Renamed", "password": "a-brand-new-password", "max_chats": 7, "pii": true,
				"queues": []map[string]any{{"queue": "nts126.tax"}, {"queue": "nts126.nowhere"}},
			}).wantError(t, http.StatusBadRequest, codeValidation, "queues[1].queue")
			h.unchanged(t, before, "refused user patch")
			// Neither the password nor the end of the sessions went through.
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantStatus(t, http.StatusOK)
			h.login(name, testPassword).wantStatus(t, http.StatusCreated)
			h.login(name, "a-brand-new-password").wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
		})

		t.Run("agency patch refused", func(t *testing.T) {
			h := h.on(t)
			before := h.snapshot()
			h.clock.Advance(time.Second)
			h.do(http.MethodPatch, "/v1/agencies/gov110", asAdmin, map[string]string{"description": "new", "name": ""}).
				wantError(t, http.StatusBadRequest, codeValidation, "name")
			h.unchanged(t, before, "refused agency patch")
		})
	})
}

// TestDeleteQueueDropsMemberships: deleting a queue removes the
// memberships that pointed at it, and its own overflow rules.
func TestDeleteQueueDropsMemberships(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		temp := h.mkQueue("gov110", "temp", "gov110.general")
		name := h.freshAgent("gov110", "gov110.general", temp.ID)
		h.do(http.MethodDelete, "/v1/queues/"+temp.ID, asSup, nil).wantStatus(t, http.StatusNoContent)
		if _, ok := h.getQueue(temp.ID); ok {
			t.Errorf("queue %s still exists after its delete", temp.ID)
		}
		u, _ := h.getUser(name)
		if len(u.Queues) != 1 || u.Queues[0].Queue != "gov110.general" {
			t.Errorf("%s's queues after deleting %s = %+v; want only gov110.general", name, temp.ID, u.Queues)
		}
		// temp's rule into general went with it: general may go now.
		h.do(http.MethodDelete, "/v1/queues/gov110.general", asAdmin, nil).wantStatus(t, http.StatusNoContent)
		if u, _ := h.getUser(name); len(u.Queues) != 0 {
			t.Errorf("%s's queues after deleting every queue = %+v; want none", name, u.Queues)
		}
		// A re-created queue of the same id has no members.
		h.do(http.MethodPost, "/v1/agencies/gov110/queues", asAdmin, queueBody("temp", nil)).wantStatus(t, http.StatusCreated)
		if u, _ := h.getUser(name); len(u.Queues) != 0 {
			t.Errorf("%s's queues after re-creating %s = %+v; want none", name, temp.ID, u.Queues)
		}
	})
}

// TestCreateAndReadBack: what a create answers is what reads back, and the
// defaults of the contract are filled in.
func TestCreateAndReadBack(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)

		r := h.do(http.MethodPost, "/v1/agencies", asAdmin, map[string]string{"id": "kdca1339", "name": "질병관리청 1339", "description": "감염병 상담"})
		var a directory.Agency
		if r.wantStatus(t, http.StatusCreated) && r.decode(t, &a) {
			if got, _ := h.getAgency("kdca1339"); got.Name != "질병관리청 1339" || got.Description != "감염병 상담" || !got.CreatedAt.Equal(a.CreatedAt) {
				t.Errorf("agency read back = %+v; created %+v", got, a)
			}
		}

		r = h.do(http.MethodPost, "/v1/agencies/kdca1339/queues", asAdmin, map[string]string{"id": "general", "name": " 일반 상담 "})
		var q directory.Queue
		if r.wantStatus(t, http.StatusCreated) && r.decode(t, &q) {
			want := directory.NewQueue("kdca1339", "general")
			want.Name = "일반 상담"
			if q.ID != "kdca1339.general" || q.Agency != "kdca1339" || q.Name != want.Name ||
				q.OfferTimeoutS != 20 || q.WrapupS != 10 || q.Strategy != want.Strategy ||
				!slices.Equal(q.Channels, want.Channels) || q.OverflowPolicy != want.OverflowPolicy || q.SLA != want.SLA ||
				q.Kind != directory.KindService || q.CallbackRetries != 2 || q.CallbackRetryS != 300 || !q.Public {
				t.Errorf("created queue = %+v; want the contract's defaults like %+v", q, want)
			}
			got, _ := h.getQueue(q.ID)
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", q) {
				t.Errorf("queue read back\n  = %+v\n  created %+v", got, q)
			}
		}

		r = h.do(http.MethodPatch, "/v1/queues/kdca1339.general", asAdmin, map[string]any{
			"channels": []string{"chat", "callback"}, "strategy": "round-robin", "required_skills": map[string]int{"lang:en": 2},
			"overflow": []map[string]any{{"after_s": 45, "to": "gov110.general"}}, "sla": map[string]int{"answer_within_s": 30, "target_pct": 90},
			"public": false, "max_waiting": 50, "callback_retries": 4, "callback_retry_s": 90,
		})
		if r.wantStatus(t, http.StatusOK) && r.decode(t, &q) {
			got, _ := h.getQueue(q.ID)
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", q) {
				t.Errorf("patched queue read back\n  = %+v\n  answered %+v", got, q)
			}
			if got.Name != "일반 상담" || got.Public || got.MaxWaiting != 50 || len(got.Overflow) != 1 || got.Overflow[0].AfterS != 45 ||
				got.Kind != directory.KindService || got.CallbackRetries != 4 || got.CallbackRetryS != 90 {
				t.Errorf("patched queue = %+v", got)
			}
		}

		r = h.do(http.MethodPost, "/v1/users", asAdmin, userBody("kim.minji", map[string]any{
			"agency": "kdca1339", "skills": map[string]int{"lang:ko": 5, "topic:tax": 3},
			"queues": []map[string]any{{"queue": "kdca1339.general"}}, "pii": true,
		}))
		var u directory.User
		if r.wantStatus(t, http.StatusCreated) && r.decode(t, &u) {
			if strings.Contains(string(r.body), "password") || strings.Contains(string(r.body), "argon2") {
				t.Errorf("%s: answer mentions the password: %s", r, r.body)
			}
			if u.MaxChats != directory.DefaultMaxChats || len(u.Queues) != 1 || u.Queues[0].Level != 1 || !u.PII {
				t.Errorf("created user = %+v; want max_chats %d, level 1, pii", u, directory.DefaultMaxChats)
			}
			got, _ := h.getUser("kim.minji")
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", u) {
				t.Errorf("user read back\n  = %+v\n  created %+v", got, u)
			}
		}
		tok := h.loginToken("kim.minji", testPassword)
		h.do(http.MethodGet, "/v1/queues/kdca1339.general", asAnon, nil, withToken(tok)).wantStatus(t, http.StatusOK)
	})
}

// TestPagination walks every list two at a time and checks each record
// comes exactly once, in order, with an empty cursor on the last page.
func TestPagination(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		for i := range 5 {
			h.mkAgency(fmt.Sprintf("page-%d", i))
			h.mkQueue("gov110", fmt.Sprintf("line-%d", i))
			h.freshAgent("gov110")
		}
		walk := func(as, path string, key func(map[string]any) string) []string {
			t.Helper()
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 50 {
					t.Fatalf("%s: more than 50 pages; the cursor does not advance", path)
				}
				p := path + "limit=2"
				if cursor != "" {
					p += "&cursor=" + cursor
				}
				r := h.do(http.MethodGet, p, as, nil)
				var page listPage[map[string]any]
				if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &page) {
					t.FailNow()
				}
				if len(page.Items) > 2 {
					t.Errorf("%s: %d items; want at most 2", r, len(page.Items))
				}
				for _, it := range page.Items {
					got = append(got, key(it))
				}
				if page.NextCursor == "" {
					return got
				}
				if len(page.Items) == 0 {
					t.Fatalf("%s: no items but a next_cursor", r)
				}
				cursor = page.NextCursor
			}
		}
		id := func(m map[string]any) string { s, _ := m["id"].(string); return s }
		username := func(m map[string]any) string { s, _ := m["username"].(string); return s }
		all := func(path string, key func(map[string]any) string) []string {
			t.Helper()
			var page listPage[map[string]any]
			r := h.do(http.MethodGet, path, asAdmin, nil)
			if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &page) {
				t.FailNow()
			}
			if page.NextCursor != "" {
				t.Errorf("%s: next_cursor %q on a list that fits one page", r, page.NextCursor)
			}
			var out []string
			for _, it := range page.Items {
				out = append(out, key(it))
			}
			return out
		}
		for _, c := range []struct {
			as, path string
			key      func(map[string]any) string
			want     []string
		}{
			{asAdmin, "/v1/agencies?", id, all("/v1/agencies?limit=500", id)},
			{asAgent, "/v1/agencies?", id, all("/v1/agencies?limit=500", id)},
			{asAdmin, "/v1/queues?", id, all("/v1/queues?limit=500", id)},
			{asSup, "/v1/queues?", id, all("/v1/queues?agency=gov110&limit=500", id)},
			{asAdmin, "/v1/users?", username, all("/v1/users?limit=500", username)},
			{asSup, "/v1/users?agency=gov110&", username, all("/v1/users?agency=gov110&limit=500", username)},
			{asAdmin, "/v1/users?role=agent&", username, all("/v1/users?role=agent&limit=500", username)},
		} {
			got := walk(c.as, c.path, c.key)
			if len(c.want) < 5 {
				t.Errorf("%s: only %d records; the test wants more than two pages", c.path, len(c.want))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("walking %s as %s two at a time = %q; want %q", c.path, who(c.as), got, c.want)
			}
			// In order means the server's order, the one-page list's; the
			// database's collation decides it, so it is not compared with
			// Go's byte order here.
			seen := map[string]bool{}
			for _, k := range got {
				if seen[k] {
					t.Errorf("walking %s: %q came twice", c.path, k)
				}
				seen[k] = true
			}
		}
		// An exact multiple of the page size ends with an empty page or an
		// empty cursor, never a cursor to nothing.
		var page listPage[map[string]any]
		r := h.do(http.MethodGet, "/v1/queues?agency=nts126&limit=1", asAdmin, nil)
		if r.wantStatus(t, http.StatusOK) && r.decode(t, &page) && (len(page.Items) != 1 || page.NextCursor != "") {
			t.Errorf("%s = %s; want one item and no next_cursor", r, r.body)
		}
		// An empty list is [] not null.
		r = h.do(http.MethodGet, "/v1/users?agency=no-such-agency", asAdmin, nil)
		if r.wantStatus(t, http.StatusOK) && !strings.Contains(string(r.body), `"items":[]`) {
			t.Errorf("%s = %s; want \"items\":[]", r, r.body)
		}
	})
}

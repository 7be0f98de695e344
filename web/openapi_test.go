package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"tellonce/sql/sqltest"
)

// loadOpenAPI reads the served document with kin-openapi and validates it
// as OpenAPI 3.1.
func loadOpenAPI(t *testing.T, h *harness) *openapi3.T {
	t.Helper()
	r := h.do(http.MethodGet, "/v1/openapi.json", asAnon, nil)
	if !r.wantStatus(t, http.StatusOK) {
		t.FailNow()
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q; want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	return doc
}

// TestOpenAPIListsEveryRoute fails when a route of the table has no
// description (add it to apiOperations) or a description names a route
// that is gone.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	doc := loadOpenAPI(t, h)
	routes := h.server.Routes()
	for _, pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s is in the route table but not in the OpenAPI document (web/openapi.go)", pattern)
		}
	}
	for pattern := range apiOperations() {
		if !slices.Contains(routes, pattern) {
			t.Errorf("the OpenAPI description has %s, which is not in the route table", pattern)
		}
	}
}

// exchange is one request and its answer, as the client saw them.
type exchange struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

// recorder keeps every exchange that passes through the test client.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []exchange
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := rec.next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	rec.mu.Lock()
	rec.seen = append(rec.seen, exchange{req: req, status: res.StatusCode, header: res.Header.Clone(), body: body})
	rec.mu.Unlock()
	return res, nil
}

// TestResponsesMatchOpenAPI sends requests that reach every route of the
// table, successes and refusals, and checks each answer — its status is
// documented for the route, its body matches the schema — with
// kin-openapi's validator (JSON Schema 2020-12, as OpenAPI 3.1 has it).
func TestResponsesMatchOpenAPI(t *testing.T) {
	rh := newReviewHarness(t, sqltest.Open(t, "sqlite"))
	h := rh.harness
	doc := loadOpenAPI(t, h)
	rec := &recorder{next: h.client.Transport}
	if rec.next == nil {
		rec.next = http.DefaultTransport
	}
	h.client.Transport = rec
	exerciseEveryRoute(t, h, rh.in)
	h.client.Transport = rec.next

	mux := http.NewServeMux()
	for _, p := range h.server.Routes() {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	exercised := map[string]bool{}
	for _, ex := range rec.seen {
		_, pattern := mux.Handler(ex.req)
		if pattern == "" {
			continue // 404 and 405 of paths outside the table
		}
		exercised[pattern] = true
		method, path, _ := strings.Cut(pattern, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s: not in the document", pattern)
			continue
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: ex.req,
				Route:   &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)},
			},
			Status:  ex.status,
			Header:  ex.header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		in.SetBodyBytes(ex.body)
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s answered %d %s: does not match the document: %v", ex.req.Method, ex.req.URL.Path, ex.status, truncate(ex.body), err)
		}
	}
	var missing []string
	for _, p := range h.server.Routes() {
		if !exercised[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes no request reached: %v (extend exerciseEveryRoute)", missing)
	}
}

// exerciseEveryRoute sends at least one request to every route.
func exerciseEveryRoute(t *testing.T, h *harness, closedCase string) {
	t.Helper()
	// Sessions.
	h.login(asAgent, testPassword).wantStatus(t, http.StatusCreated)
	h.login(asAgent, "wrong-password").wantStatus(t, http.StatusUnauthorized)
	h.do(http.MethodGet, "/v1/sessions/current", asAdmin, nil).wantStatus(t, http.StatusOK)
	tok := h.loginToken(asSup, testPassword)
	h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantStatus(t, http.StatusNoContent)

	// Agencies, queues, users.
	h.do(http.MethodPost, "/v1/agencies", asAdmin, map[string]any{"id": "oa-agency", "name": "OA"}).wantStatus(t, http.StatusCreated)
	h.do(http.MethodPost, "/v1/agencies", asAdmin, map[string]any{"id": "oa-agency", "name": "OA"}).wantStatus(t, http.StatusConflict)
	h.do(http.MethodPost, "/v1/agencies", asAdmin, rawBody(`{"id":"x","id":"y"}`)).wantStatus(t, http.StatusBadRequest)
	h.do(http.MethodGet, "/v1/agencies", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/agencies", asAnon, nil).wantStatus(t, http.StatusUnauthorized)
	h.do(http.MethodGet, "/v1/agencies/gov110", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/agencies/nope", asAdmin, nil).wantStatus(t, http.StatusNotFound)
	h.do(http.MethodPatch, "/v1/agencies/oa-agency", asAdmin, map[string]any{"description": "d"}).wantStatus(t, http.StatusOK)
	h.do(http.MethodPost, "/v1/agencies/oa-agency/queues", asAdmin, queueBody("oa", nil)).wantStatus(t, http.StatusCreated)
	h.do(http.MethodGet, "/v1/queues", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/queues/oa-agency.oa", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodPatch, "/v1/queues/oa-agency.oa", asAdmin, map[string]any{"name": "OA 2"}).wantStatus(t, http.StatusOK)
	h.do(http.MethodPatch, "/v1/queues/oa-agency.oa", asAgent, map[string]any{"name": "OA 3"}).wantStatus(t, http.StatusForbidden)
	h.do(http.MethodPost, "/v1/users", asAdmin, userBody("oa-user", map[string]any{"agency": "oa-agency"})).wantStatus(t, http.StatusCreated)
	h.do(http.MethodGet, "/v1/users", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/users/oa-user", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodPatch, "/v1/users/oa-user", asAdmin, map[string]any{"name": "OA User"}).wantStatus(t, http.StatusOK)
	h.do(http.MethodDelete, "/v1/agencies/oa-agency", asAdmin, nil).wantStatus(t, http.StatusConflict)
	h.do(http.MethodDelete, "/v1/users/oa-user", asAdmin, nil).wantStatus(t, http.StatusNoContent)
	h.do(http.MethodDelete, "/v1/queues/oa-agency.oa", asAdmin, nil).wantStatus(t, http.StatusNoContent)
	h.do(http.MethodDelete, "/v1/agencies/oa-agency", asAdmin, nil).wantStatus(t, http.StatusNoContent)

	// Contacts, cases, callbacks.
	c := h.chat(t, "gov110.general", "oa-1")
	cit := withHeader("X-Citizen-Token", c.CitizenToken)
	h.do(http.MethodGet, "/v1/contacts/"+c.ContactID, asAnon, nil, cit).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/contacts/"+c.ContactID, asAnon, nil).wantStatus(t, http.StatusUnauthorized)
	h.do(http.MethodGet, "/v1/contacts/"+c.ContactID+"/messages", asAnon, nil, cit)
	h.do(http.MethodGet, "/v1/queues/gov110.general/callback-slots", asAnon, nil)
	h.do(http.MethodGet, "/v1/queues/nope/callback-slots", asAnon, nil)
	h.do(http.MethodPost, "/v1/contacts/"+c.ContactID+"/callback", asAnon, map[string]any{"number": "0212345678"}, cit)
	h.do(http.MethodGet, "/v1/cases/"+c.CaseID, asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/contacts/"+c.ContactID+"/ws", asAnon, nil, cit).wantStatus(t, http.StatusBadRequest)
	h.do(http.MethodDelete, "/v1/contacts/"+c.ContactID, asAnon, nil, cit).wantStatus(t, http.StatusNoContent)
	h.do(http.MethodGet, "/v1/agent/ws", asAgent, nil).wantStatus(t, http.StatusBadRequest)
	h.do(http.MethodGet, "/v1/gateway/ws", asGateway, nil).wantStatus(t, http.StatusBadRequest)
	h.do(http.MethodGet, "/v1/gateway/ws", asAnon, nil).wantStatus(t, http.StatusUnauthorized)
	h.do(http.MethodGet, "/v1/transfer-targets", asAgent, nil)

	// Recordings and erasure: refusals the document must describe.
	h.do(http.MethodPut, "/v1/contacts/"+c.ContactID+"/recordings/bad-name.wav", asGateway, rawBody("RIFF"), withHeader("Content-Type", "audio/wav")) // 503 here: no --recording-dir
	h.do(http.MethodGet, "/v1/cases/"+closedCase+"/recordings/none.wav", asAdmin, nil)
	h.do(http.MethodDelete, "/v1/transcripts/"+closedCase, asAdmin, nil).wantStatus(t, http.StatusBadRequest)

	// Statistics, reports, supervision, operations.
	for _, p := range []string{"/v1/stats/queues", "/v1/stats/queues/history", "/v1/stats/agents",
		"/v1/reports/queues", "/v1/reports/agencies", "/v1/reports/agents",
		"/v1/transcripts", "/v1/audit", "/v1/transcripts/" + closedCase, "/v1/transcripts/" + closedCase + "/export?format=json&reason=check",
		"/v1/transcripts/" + closedCase + "/export?format=csv&reason=check", "/v1/reports/queues?format=csv"} {
		h.do(http.MethodGet, p, asAdmin, nil)
	}
	h.do(http.MethodGet, "/v1/stats/stream", asAnon, nil).wantStatus(t, http.StatusUnauthorized)
	h.do(http.MethodGet, "/v1/stats/queues", asGateway, nil).wantStatus(t, http.StatusForbidden)
	h.do(http.MethodGet, "/v1/status", asAnon, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/openapi.json", asAnon, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/healthz", asAnon, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/readyz", asAnon, nil).wantStatus(t, http.StatusOK)
}

// TestAdminPageLinksTheAPIDescription: the document is one click from the
// admin page.
func TestAdminPageLinksTheAPIDescription(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	r := h.do(http.MethodGet, "/admin", asAnon, nil)
	if r.wantStatus(t, http.StatusOK) && !strings.Contains(string(r.body), `href="/v1/openapi.json"`) {
		t.Fatal("the admin page has no link to /v1/openapi.json")
	}
}

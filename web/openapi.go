package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The OpenAPI 3.1 description of the REST API, served at
// GET /v1/openapi.json. It is built from Go rather than kept as a file so
// that it sits next to the route table it describes: TestOpenAPIListsEveryRoute
// fails when a route of the table has no entry in apiOperations, and
// TestResponsesMatchOpenAPI checks real answers against it. docs/api.md
// stays the reference for rules and meanings; the document carries the
// shapes, parameters, access and error codes.

// apiOp describes one route of the table.
type apiOp struct {
	summary string
	tag     string
	// access is who may call it: "session" (bearer token or cookie),
	// "public" (no credentials), "citizen" (the citizen token, or a
	// session), "metrics".
	access string
	query  []string // query parameters, all optional strings
	body   string   // the request body's schema (components), "" for none
	// status and result are the success answer: result names a schema of
	// the components, "" means no body, "text" a text body, "sse" an
	// event stream, "ws" a WebSocket upgrade (101).
	status int
	result string
	errors []int
}

// apiOperations is the description of every route, by pattern.
func apiOperations() map[string]apiOp {
	list := []int{400, 401, 403}
	one := []int{401, 403, 404}
	review := []int{400, 401, 403, 404, 503} // 503: no case log on this server
	write := []int{400, 401, 403, 404, 409, 413}
	return map[string]apiOp{
		"POST /v1/sessions":           {"Log in", "sessions", "public", nil, "LoginRequest", 201, "Session", []int{400, 401, 413, 429}},
		"GET /v1/sessions/current":    {"The current session's user", "sessions", "session", nil, "", 200, "CurrentSession", []int{401}},
		"DELETE /v1/sessions/current": {"Log out", "sessions", "session", nil, "", 204, "", []int{401, 403}},

		"POST /v1/agencies":        {"Create an agency", "agencies", "session", nil, "Object", 201, "Agency", write},
		"GET /v1/agencies":         {"List agencies", "agencies", "session", []string{"limit", "cursor"}, "", 200, "AgencyList", list},
		"GET /v1/agencies/{id}":    {"Read an agency", "agencies", "session", nil, "", 200, "Agency", one},
		"PATCH /v1/agencies/{id}":  {"Change an agency", "agencies", "session", nil, "Object", 200, "Agency", write},
		"DELETE /v1/agencies/{id}": {"Delete an agency without queues or users", "agencies", "session", nil, "", 204, "", []int{401, 403, 404, 409}},

		"POST /v1/agencies/{agency}/queues": {"Create a queue", "queues", "session", nil, "Object", 201, "Queue", write},
		"GET /v1/queues":                    {"List queues", "queues", "session", []string{"agency", "limit", "cursor"}, "", 200, "QueueList", list},
		"GET /v1/queues/{queue}":            {"Read a queue", "queues", "session", nil, "", 200, "Queue", one},
		"PATCH /v1/queues/{queue}":          {"Change a queue", "queues", "session", nil, "Object", 200, "Queue", write},
		"DELETE /v1/queues/{queue}":         {"Delete a queue", "queues", "session", nil, "", 204, "", []int{401, 403, 404, 409}},

		"POST /v1/users":              {"Create a user", "users", "session", nil, "Object", 201, "User", write},
		"GET /v1/users":               {"List users", "users", "session", []string{"agency", "role", "limit", "cursor"}, "", 200, "UserList", list},
		"GET /v1/users/{username}":    {"Read a user", "users", "session", nil, "", 200, "User", one},
		"PATCH /v1/users/{username}":  {"Change a user", "users", "session", nil, "Object", 200, "User", write},
		"DELETE /v1/users/{username}": {"Delete a user", "users", "session", nil, "", 204, "", []int{401, 403, 404, 409}},

		"POST /v1/contacts":                     {"Open a contact (chat: public; voice and callback: a gateway)", "contacts", "citizen", nil, "ContactRequest", 201, "ContactCreated", []int{400, 401, 403, 404, 409, 413, 429}},
		"GET /v1/contacts/{id}":                 {"Follow a contact", "contacts", "citizen", []string{"token"}, "", 200, "ContactStatus", []int{401, 404}},
		"DELETE /v1/contacts/{id}":              {"End a contact before it is served", "contacts", "citizen", []string{"token"}, "", 204, "", []int{401, 403, 404}},
		"GET /v1/cases/{id}":                    {"Read a case with its whole context", "contacts", "session", nil, "", 200, "Case", one},
		"GET /v1/contacts/{id}/messages":        {"A chat's messages, for its citizen", "contacts", "citizen", []string{"token"}, "", 200, "Items", []int{401, 404}},
		"POST /v1/contacts/{id}/callback":       {"Ask to be called back instead of waiting", "callbacks", "citizen", []string{"token"}, "CallbackRequest", 200, "ContactStatus", []int{400, 401, 403, 404, 409, 413, 429}},
		"GET /v1/queues/{queue}/callback-slots": {"When a queue can call back", "callbacks", "public", nil, "", 200, "Object", []int{400, 404, 429}},

		"GET /v1/agent/ws":         {"The agent WebSocket (docs/protocol.md)", "websockets", "session", nil, "", 101, "ws", []int{400, 401, 403}},
		"GET /v1/contacts/{id}/ws": {"The citizen WebSocket (docs/protocol.md)", "websockets", "citizen", []string{"token"}, "", 101, "ws", []int{400, 401, 403, 404}},
		"GET /v1/gateway/ws":       {"The gateway WebSocket (docs/protocol.md)", "websockets", "session", nil, "", 101, "ws", []int{400, 401, 403}},

		"GET /v1/transfer-targets": {"Where an agent may transfer to", "consoles", "session", nil, "", 200, "Object", []int{401, 403}},

		"GET /v1/stats/queues":         {"Live queue statistics", "statistics", "session", []string{"agency"}, "", 200, "Items", list},
		"GET /v1/stats/queues/history": {"Per-minute queue history", "statistics", "session", []string{"agency", "queue", "since"}, "", 200, "Items", list},
		"GET /v1/stats/agents":         {"Live agent statistics", "statistics", "session", []string{"agency"}, "", 200, "Items", list},
		"GET /v1/stats/stream":         {"Statistics as a server-sent event stream", "statistics", "session", []string{"agency"}, "", 200, "sse", list},
		"GET /v1/status":               {"The public traffic light of every public queue", "statistics", "public", []string{"lang"}, "", 200, "StatusList", []int{429}},

		"GET /v1/reports/queues":   {"A report by queue", "reports", "session", []string{"agency", "from", "to", "format"}, "", 200, "Report", list},
		"GET /v1/reports/agencies": {"A report by agency", "reports", "session", []string{"agency", "from", "to", "format"}, "", 200, "Report", list},
		"GET /v1/reports/agents":   {"A report by agent", "reports", "session", []string{"agency", "from", "to", "format"}, "", 200, "Report", list},

		"GET /v1/transcripts":                     {"Search closed cases", "supervision", "session", []string{"agency", "queue", "agent", "disposition", "from", "to", "q", "limit", "cursor"}, "", 200, "List", review},
		"GET /v1/transcripts/{case_id}":           {"A closed case's transcript", "supervision", "session", nil, "", 200, "Object", review},
		"GET /v1/transcripts/{case_id}/export":    {"A transcript as a file (export permission)", "supervision", "session", []string{"format", "reason"}, "", 200, "text", review},
		"PUT /v1/contacts/{id}/recordings/{name}": {"Upload a leg's recording (gateways; the body is the WAV file)", "recordings", "session", nil, "wav", 201, "Recording", []int{400, 401, 403, 404, 409, 413, 415, 503}},
		"GET /v1/cases/{id}/recordings/{name}":    {"Play or download a recording (pii holders; a download needs the export permission)", "recordings", "session", []string{"download", "reason"}, "", 200, "wav", []int{400, 401, 403, 404, 503}},
		"DELETE /v1/transcripts/{case_id}":        {"Erase a closed case and its recordings (admins)", "supervision", "session", []string{"reason"}, "", 204, "", []int{400, 401, 403, 404, 409, 503}},
		"GET /v1/audit":                           {"The access audit", "supervision", "session", []string{"agency", "username", "case_id", "action", "from", "to", "limit", "cursor"}, "", 200, "List", review},

		"GET /v1/openapi.json": {"This document", "operations", "public", nil, "", 200, "Object", nil},
		"GET /healthz":         {"The process answers", "operations", "public", nil, "", 200, "Health", nil},
		"GET /readyz":          {"Ready to serve", "operations", "public", nil, "", 200, "Health", []int{503}},
	}
}

// errorCodes are the contract's codes by status, for the descriptions.
func errorCodes() map[int]string {
	return map[int]string{
		400: "validation", 401: "unauthorized", 403: "forbidden", 404: "not_found",
		405: "method_not_allowed", 409: "conflict or closed", 413: "too_large",
		415: "validation (field content_type)", 429: "rate_limited", 500: "internal", 503: "unavailable",
	}
}

// OpenAPI returns the document for the given route patterns (the route
// table; patterns it has no description of are left out, which the tests
// catch).
func OpenAPI(patterns []string) map[string]any {
	ops := apiOperations()
	paths := map[string]any{}
	for _, pattern := range patterns {
		op, ok := ops[pattern]
		if !ok {
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = operation(pattern, path, op)
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "tellonce API",
			"version": "v1",
			"description": "The REST API of tellonce, a public call-centre router. Rules and meanings are in " +
				"[docs/api.md](../docs/api.md) of the repository; the WebSocket protocols (agent, citizen, gateway) " +
				"are in [docs/protocol.md](../docs/protocol.md). Every error answers " +
				"{\"error\":{\"code\",\"message\",\"field\"}}. Request bodies are strict: unknown fields, duplicate " +
				"keys, keys in the wrong case and invalid UTF-8 are 400 validation.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "a session token from POST /v1/sessions"},
				"cookie":  map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie},
				"citizen": map[string]any{"type": "apiKey", "in": "header", "name": "X-Citizen-Token", "description": "the contact's citizen_token (or ?token=)"},
			},
			"schemas":   apiSchemas(),
			"responses": errorResponses(),
		},
	}
}

func operation(pattern, path string, op apiOp) map[string]any {
	o := map[string]any{
		"operationId": operationID(pattern),
		"summary":     op.summary,
		"tags":        []string{op.tag},
	}
	var params []any
	for _, seg := range strings.Split(path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			params = append(params, map[string]any{"name": strings.TrimSuffix(name, "}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
	}
	for _, q := range op.query {
		params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
	}
	if params != nil {
		o["parameters"] = params
	}
	switch op.access {
	case "session":
		o["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"cookie": []string{}}}
	case "citizen":
		o["security"] = []any{map[string]any{}, map[string]any{"citizen": []string{}}, map[string]any{"bearer": []string{}}}
	default:
		o["security"] = []any{}
	}
	if op.body == "wav" {
		o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"audio/wav": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "audio/wav"}}}}
	} else if op.body != "" {
		o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"application/json": map[string]any{"schema": ref(op.body)}}}
	}
	responses := map[string]any{}
	ok := map[string]any{"description": http.StatusText(op.status)}
	switch op.result {
	case "":
	case "text":
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}},
			"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}, "application/json": map[string]any{"schema": map[string]any{}}}
	case "sse":
		ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}
	case "wav":
		ok["content"] = map[string]any{"audio/wav": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "audio/wav"}}}
		responses["206"] = map[string]any{"description": "Partial Content (a Range request)", "content": ok["content"]}
	case "ws":
		ok["description"] = "Switching Protocols: the socket speaks the protocol of docs/protocol.md"
	case "Report":
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref("Report")},
			"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}
	default:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(op.result)}}
	}
	responses[strconv.Itoa(op.status)] = ok
	if op.result == "Recording" {
		// The same upload again is the same recording.
		responses["200"] = map[string]any{"description": "OK: this recording was already uploaded", "content": ok["content"]}
	}
	errs := append(slices.Clone(op.errors), 405, 500)
	if op.access == "session" && !slices.Contains(errs, 401) {
		errs = append(errs, 401)
	}
	for _, code := range errs {
		responses[strconv.Itoa(code)] = map[string]any{"$ref": "#/components/responses/E" + strconv.Itoa(code)}
	}
	o["responses"] = responses
	return o
}

// operationID is the pattern as an identifier: "GET /v1/agencies/{id}"
// becomes "get_agencies_id".
func operationID(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.TrimPrefix(path, "/v1")
	r := strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_", ".", "_")
	return strings.ToLower(method) + strings.TrimRight(r.Replace(path), "_")
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func errorResponses() map[string]any {
	out := map[string]any{}
	for status, code := range errorCodes() {
		out["E"+strconv.Itoa(status)] = map[string]any{
			"description": http.StatusText(status) + " (" + code + ")",
			"content":     map[string]any{"application/json": map[string]any{"schema": ref("ErrorBody")}},
		}
	}
	return out
}

// Schema helpers: the shapes are kept to what every answer has, so that
// a field added to an answer (docs/api.md) does not break clients that
// read the document.
func obj(required []string, props map[string]any) map[string]any {
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func listOf(item map[string]any) map[string]any {
	return obj([]string{"items"}, map[string]any{"items": map[string]any{"type": "array", "items": item}, "next_cursor": map[string]any{"type": "string"}})
}

func apiSchemas() map[string]any {
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer"}
	boolean := map[string]any{"type": "boolean"}
	anyValue := map[string]any{}
	user := obj([]string{"username", "name", "role"}, map[string]any{
		"username": str, "name": str, "role": map[string]any{"enum": []string{"admin", "supervisor", "agent", "gateway"}},
		"agency": str, "pii": boolean, "export": boolean, "max_chats": integer, "skills": map[string]any{"type": "object"}, "queues": anyValue, "sip_uri": str,
	})
	agency := obj([]string{"id", "name"}, map[string]any{"id": str, "name": str, "description": str, "time_zone": str, "holidays": anyValue})
	queue := obj([]string{"id", "agency", "name", "channels"}, map[string]any{
		"id": str, "agency": str, "name": str, "kind": map[string]any{"enum": []string{"service", "interpreter"}},
		"channels": map[string]any{"type": "array", "items": map[string]any{"enum": []string{"voice", "chat", "callback"}}},
		"strategy": str, "offer_timeout_s": integer, "wrapup_s": integer, "public": boolean,
	})
	light := map[string]any{"enum": []any{"green", "yellow", "red", nil}}
	contact := map[string]any{
		"contact_id": str, "case_id": str, "queue": str, "channel": map[string]any{"enum": []string{"voice", "chat", "callback"}},
		"status": str, "position": integer, "estimated_wait_s": map[string]any{"type": []string{"integer", "null"}}, "light": light,
	}
	created := map[string]any{"citizen_token": str, "case_token": str, "previous_case_id": str}
	for k, v := range contact {
		created[k] = v
	}
	return map[string]any{
		"Error": obj([]string{"code", "message"}, map[string]any{
			"code": str, "message": str, "field": map[string]any{"type": "string", "description": "the field at fault, as a path: sla.target_pct, channels[1]"},
		}),
		"ErrorBody":      obj([]string{"error"}, map[string]any{"error": ref("Error")}),
		"Object":         map[string]any{"type": "object"},
		"Items":          obj([]string{"items"}, map[string]any{"items": map[string]any{"type": "array"}}),
		"List":           listOf(map[string]any{"type": "object"}),
		"Health":         obj([]string{"status"}, map[string]any{"status": str}),
		"LoginRequest":   obj([]string{"username", "password"}, map[string]any{"username": str, "password": str}),
		"Session":        obj([]string{"token", "expires_at", "user"}, map[string]any{"token": str, "expires_at": map[string]any{"type": "string", "format": "date-time"}, "user": user}),
		"CurrentSession": obj([]string{"user"}, map[string]any{"user": user}),
		"User":           user,
		"UserList":       listOf(user),
		"Agency":         agency,
		"AgencyList":     listOf(agency),
		"Queue":          queue,
		"QueueList":      listOf(queue),
		"ContactRequest": obj([]string{"channel", "queue", "caller"}, map[string]any{
			"channel": str, "queue": str, "priority": integer, "caller": map[string]any{"type": "object"},
			"context": map[string]any{"type": "object"}, "callback_number": str, "case_id": str, "case_token": str,
		}),
		"ContactCreated":  obj([]string{"contact_id", "case_id", "queue", "channel", "status", "citizen_token"}, created),
		"ContactStatus":   obj([]string{"contact_id", "status"}, contact),
		"CallbackRequest": obj(nil, map[string]any{"number": str, "callback_at": map[string]any{"type": "string", "format": "date-time"}}),
		"Case": obj([]string{"case_id", "status", "legs", "events"}, map[string]any{
			"case_id": str, "status": map[string]any{"enum": []string{"open", "closed"}}, "caller": map[string]any{"type": "object"},
			"legs": map[string]any{"type": "array"}, "events": map[string]any{"type": "array"}, "previous_case_id": str,
		}),
		"Report": map[string]any{"type": "object"},
		"Recording": obj([]string{"case_id", "contact_id", "file", "seconds", "started_at"}, map[string]any{
			"case_id": str, "contact_id": str, "file": str, "seconds": integer, "started_at": map[string]any{"type": "string", "format": "date-time"},
		}),
		"StatusList": map[string]any{"type": "array", "items": obj([]string{"queue", "agency", "name", "light"}, map[string]any{
			"queue": str, "agency": str, "name": str, "light": light, "label": str,
			"estimated_wait_s": map[string]any{"type": []string{"integer", "null"}},
		})},
	}
}

// openAPI serves the document of this server's route table.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(OpenAPI(s.Routes()))
}

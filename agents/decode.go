package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"tellonce/cases"
	"tellonce/strictjson"
)

// Error codes of the API contract that a frame can be answered with.
const (
	CodeValidation  = "validation"
	CodeForbidden   = "forbidden"
	CodeNotFound    = "not_found"
	CodeConflict    = "conflict"
	CodeUnavailable = "unavailable"
	CodeTooLarge    = "too_large"
	CodeRateLimited = "rate_limited"
)

// Bounds on client frame fields. Text bounds count characters, not bytes,
// because the contract states them in characters and Korean text takes
// three bytes per syllable.
const (
	maxText        = 4000
	maxReason      = 200
	maxDisposition = 64
	maxIDLen       = 128 // ids of offers, contacts, cases, queues, agents
	maxRefLen      = 128 // the client's own frame id, echoed as ref
	// a gateway's recording: the edge's path or object key, and its length
	maxRecordingFile    = 512
	maxRecordingSeconds = 86400
)

// frameError is a client frame the server refuses before (or instead of)
// touching the router; it becomes an error frame.
type frameError struct {
	Code    string
	Field   string
	Message string
}

func (e *frameError) Error() string { return e.Code + ": " + e.Message }

func invalidf(field, format string, args ...any) *frameError {
	return &frameError{Code: CodeValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

// frameSpec lists the fields a frame type may carry besides type and id.
type frameSpec map[string][]string

// envelope reads a frame's type and id with exact key matching, so that
// "Text" or "TEXT" is an unknown field rather than silently accepted the
// way encoding/json's case-insensitive matching would have it.
//
// The returned ref is the frame's id (nil when absent or unusable); it is
// returned even when the frame is otherwise refused so that the error
// frame can still point at it.
func envelope(data []byte, specs frameSpec) (typ string, ref json.RawMessage, raw map[string]json.RawMessage, ferr *frameError) {
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return "", nil, nil, invalidf("", "a frame must be one JSON object")
	}
	if id, ok := raw["id"]; ok {
		if !validRef(id) {
			return "", nil, nil, invalidf("id", "id must be a string or a number of at most %d bytes", maxRefLen)
		}
		ref = id
	}
	// Duplicate keys and bad text, which the map above took silently.
	if serr := strictjson.Check(data, nil); serr != nil {
		if serr.Field == "id" {
			ref = nil
		}
		return "", ref, nil, invalidf(serr.Field, "%s", strictMessage(serr))
	}
	t, ok := raw["type"]
	if !ok {
		return "", ref, nil, invalidf("type", "type is required")
	}
	if err := json.Unmarshal(t, &typ); err != nil {
		return "", ref, nil, invalidf("type", "type must be a string")
	}
	fields, known := specs[typ]
	if !known {
		return "", ref, nil, invalidf("type", "unknown frame type %q", truncate(typ, 40))
	}
	for k := range raw {
		if k != "type" && k != "id" && !slices.Contains(fields, k) {
			return "", ref, nil, invalidf(truncate(k, 40), "unknown field %q in a %s frame", truncate(k, 40), typ)
		}
	}
	return typ, ref, raw, nil
}

// validRef accepts a JSON string or number of bounded size.
func validRef(id json.RawMessage) bool {
	if len(id) == 0 || len(id) > maxRefLen {
		return false
	}
	var v any
	if err := json.Unmarshal(id, &v); err != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

// decodeStrict decodes data into v refusing unknown fields (nested ones
// too) and trailing data; type errors name the field.
func decodeStrict(data []byte, v any) *frameError {
	// Nested keys in the wrong case, which encoding/json would match.
	if serr := strictjson.Check(data, reflect.TypeOf(v)); serr != nil {
		return invalidf(serr.Field, "%s", strictMessage(serr))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return invalidf("", "a frame must be exactly one JSON object")
		}
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalidf(te.Field, "%s must be %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	return invalidf("", "malformed frame: %s", truncate(err.Error(), 120))
}

// strictMessage words a strictjson refusal as frame errors are worded:
// the field first.
func strictMessage(e *strictjson.Error) string {
	if e.Field == "" {
		return "the frame " + e.Message
	}
	return truncate(e.Field, 40) + " " + e.Message
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map", "ptr":
		return "an object"
	case "int":
		return "a whole number"
	}
	return "a " + goKind
}

// exactKeys checks a nested object's keys with exact matching.
func exactKeys(field string, raw json.RawMessage, allowed ...string) *frameError {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return invalidf(field, "%s must be an object", field)
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return invalidf(field+"."+truncate(k, 40), "unknown field %q in %s", truncate(k, 40), field)
		}
	}
	return nil
}

func required(field, v string) *frameError {
	if strings.TrimSpace(v) == "" {
		return invalidf(field, "%s is required", field)
	}
	return nil
}

func idField(field, v string) *frameError {
	if err := required(field, v); err != nil {
		return err
	}
	if len(v) > maxIDLen {
		return invalidf(field, "%s is longer than %d bytes", field, maxIDLen)
	}
	return nil
}

func bounded(field, v string, n int) *frameError {
	if utf8.RuneCountInString(v) > n {
		return invalidf(field, "%s is longer than %d characters", field, n)
	}
	return nil
}

func text(field, v string) *frameError {
	if err := required(field, v); err != nil {
		return err
	}
	return bounded(field, v, maxText)
}

// firstErr returns the first refusal of a list of checks.
func firstErr(errs ...*frameError) *frameError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Agent frames.

var agentSpecs = frameSpec{
	"state":    {"state", "reason"},
	"accept":   {"offer_id"},
	"decline":  {"offer_id", "reason"},
	"say":      {"contact_id", "text"},
	"note":     {"case_id", "text"},
	"transfer": {"contact_id", "to", "mode", "note"},
	"end":      {"contact_id", "disposition", "summary", "callback"},
	// interpreters and callbacks
	"interpret":           {"contact_id", "language", "note", "share_history"},
	"interpreter_release": {"contact_id"},
	"callback_result":     {"contact_id", "result"},
	// the browser softphone and call controls (softphone.go)
	"softphone":   {"on", "take"},
	"rtc_answer":  {"contact_id", "session", "sdp"},
	"rtc_restart": {"contact_id"},
	"hold":        {"contact_id", "on"},
	"dtmf":        {"contact_id", "digits"},
}

// followUp is the callback an agent files when ending a contact.
type followUp struct {
	Queue  string `json:"queue"`
	Number string `json:"number"`
	Note   string `json:"note"`
}

// transferTarget is the wire form of cases.Target.
type transferTarget struct {
	Queue string `json:"queue"`
	Agent string `json:"agent"`
}

// agentCommand is one decoded agent frame; which fields matter depends on
// Type.
type agentCommand struct {
	Type        string          `json:"type"`
	ID          json.RawMessage `json:"id"`
	State       string          `json:"state"`
	Reason      string          `json:"reason"`
	OfferID     string          `json:"offer_id"`
	ContactID   string          `json:"contact_id"`
	CaseID      string          `json:"case_id"`
	Text        string          `json:"text"`
	To          *transferTarget `json:"to"`
	Mode        string          `json:"mode"`
	Note        string          `json:"note"`
	Disposition string          `json:"disposition"`
	Summary     string          `json:"summary"`
	Callback    *followUp       `json:"callback"`
	Language    string          `json:"language"`
	Result      string          `json:"result"`
	// ShareHistory (interpret) lets the interpreter read the case's
	// earlier conversation.
	ShareHistory bool `json:"share_history"`
	// The softphone's and call controls' fields (softphone.go).
	On      *bool  `json:"on"`
	Take    bool   `json:"take"`
	Session string `json:"session"`
	SDP     string `json:"sdp"`
	Digits  string `json:"digits"`
}

// decodeAgentFrame turns a client frame into a command, or says why not.
// The ref is the frame's id whenever it could be read.
func decodeAgentFrame(data []byte) (agentCommand, json.RawMessage, *frameError) {
	typ, ref, raw, ferr := envelope(data, agentSpecs)
	if ferr != nil {
		return agentCommand{}, ref, ferr
	}
	if to, ok := raw["to"]; ok && typ == "transfer" {
		if ferr := exactKeys("to", to, "queue", "agent"); ferr != nil {
			return agentCommand{}, ref, ferr
		}
	}
	if cb, ok := raw["callback"]; ok && typ == "end" && string(cb) != "null" {
		if ferr := exactKeys("callback", cb, "queue", "number", "note"); ferr != nil {
			return agentCommand{}, ref, ferr
		}
	}
	var cmd agentCommand
	if ferr := decodeStrict(data, &cmd); ferr != nil {
		return agentCommand{}, ref, ferr
	}
	cmd.Type, cmd.ID = typ, ref
	if ferr := cmd.validate(); ferr != nil {
		return agentCommand{}, ref, ferr
	}
	return cmd, ref, nil
}

// validate checks a command's fields for its type.
func (c agentCommand) validate() *frameError {
	switch c.Type {
	case "state":
		switch cases.AgentState(c.State) {
		case cases.StateAvailable, cases.StateBreak, cases.StateOffline:
		default:
			return invalidf("state", "state must be available, break or offline")
		}
		return bounded("reason", c.Reason, maxReason)
	case "accept":
		return idField("offer_id", c.OfferID)
	case "decline":
		return firstErr(idField("offer_id", c.OfferID), bounded("reason", c.Reason, maxReason))
	case "say":
		return firstErr(idField("contact_id", c.ContactID), text("text", c.Text))
	case "note":
		return firstErr(idField("case_id", c.CaseID), text("text", c.Text))
	case "transfer":
		if ferr := idField("contact_id", c.ContactID); ferr != nil {
			return ferr
		}
		if c.To == nil || (c.To.Queue == "") == (c.To.Agent == "") {
			return invalidf("to", "to must hold exactly one of queue and agent")
		}
		if ferr := firstErr(bounded("to.queue", c.To.Queue, maxIDLen), bounded("to.agent", c.To.Agent, maxIDLen)); ferr != nil {
			return ferr
		}
		if c.Mode != string(cases.TransferCold) && c.Mode != string(cases.TransferWarm) {
			return invalidf("mode", "mode must be cold or warm")
		}
		return bounded("note", c.Note, maxText)
	case "end":
		if ferr := firstErr(idField("contact_id", c.ContactID), bounded("disposition", c.Disposition, maxDisposition),
			bounded("summary", c.Summary, maxText)); ferr != nil {
			return ferr
		}
		if c.Callback == nil {
			return nil
		}
		return firstErr(idField("callback.queue", c.Callback.Queue), phone("callback.number", c.Callback.Number, false),
			bounded("callback.note", c.Callback.Note, maxText))
	case "interpret":
		return firstErr(idField("contact_id", c.ContactID), language("language", c.Language),
			bounded("note", c.Note, maxText))
	case "interpreter_release":
		return idField("contact_id", c.ContactID)
	case "callback_result":
		return firstErr(idField("contact_id", c.ContactID), callbackResult(c.Result))
	case "softphone", "rtc_answer", "rtc_restart", "hold", "dtmf":
		return c.validateSoftphone()
	}
	return invalidf("type", "unknown frame type %q", truncate(c.Type, 40))
}

// phone checks a phone number: 3-32 digits with an optional leading +.
func phone(field, n string, required bool) *frameError {
	if n == "" {
		if required {
			return invalidf(field, "%s is required", field)
		}
		return nil
	}
	if len(n) < 3 || len(n) > 32 || strings.Trim(n, "+0123456789") != "" {
		return invalidf(field, "%s must be 3-32 digits, optionally with +", field)
	}
	return nil
}

// language checks an optional language tag like en or zh-Hant.
func language(field, l string) *frameError {
	if l == "" {
		return nil
	}
	if len(l) > 16 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return invalidf(field, "%s must be a language tag like en or zh-Hant", field)
	}
	return nil
}

func callbackResult(r string) *frameError {
	if !cases.ValidCallbackResult(r) {
		return invalidf("result", "result must be answered, no_answer, busy or failed")
	}
	return nil
}

// Citizen frames.

var citizenSpecs = frameSpec{
	"say":   {"text"},
	"leave": {},
}

type citizenCommand struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id"`
	Text string          `json:"text"`
}

func decodeCitizenFrame(data []byte) (citizenCommand, json.RawMessage, *frameError) {
	typ, ref, _, ferr := envelope(data, citizenSpecs)
	if ferr != nil {
		return citizenCommand{}, ref, ferr
	}
	var cmd citizenCommand
	if ferr := decodeStrict(data, &cmd); ferr != nil {
		return citizenCommand{}, ref, ferr
	}
	cmd.Type, cmd.ID = typ, ref
	if ferr := cmd.validate(); ferr != nil {
		return citizenCommand{}, ref, ferr
	}
	return cmd, ref, nil
}

func (c citizenCommand) validate() *frameError {
	switch c.Type {
	case "say":
		return text("text", c.Text)
	case "leave":
		return nil
	}
	return invalidf("type", "unknown frame type %q", truncate(c.Type, 40))
}

// Gateway frames.

var gatewaySpecs = frameSpec{
	"transcript":  {"contact_id", "speaker", "text"},
	"hangup":      {"contact_id"},
	"dial_result": {"contact_id", "result"},
	// a phone edge's legs
	"connect_failed": {"contact_id", "result"},
	"agent_hangup":   {"contact_id"},
	"recording":      {"contact_id", "file", "seconds", "started_at"},
	// a browser agent's peer connection (softphone.go)
	"rtc_offer": {"contact_id", "agent", "session", "sdp", "held"},
	"rtc_state": {"contact_id", "agent", "state"},
}

type gatewayCommand struct {
	Type      string          `json:"type"`
	ID        json.RawMessage `json:"id"`
	ContactID string          `json:"contact_id"`
	Speaker   string          `json:"speaker"`
	Text      string          `json:"text"`
	Result    string          `json:"result"`
	// recording
	File    string `json:"file"`
	Seconds *int   `json:"seconds"`
	// StartedAt is read as a string so that a bad time names its field.
	StartedAt string `json:"started_at"`
	startedAt time.Time
	// rtc_offer, rtc_state (softphone.go)
	Agent   string `json:"agent"`
	Session string `json:"session"`
	SDP     string `json:"sdp"`
	State   string `json:"state"`
	// Held: an rtc_offer for a call the agent has on hold.
	Held bool `json:"held"`
}

func decodeGatewayFrame(data []byte) (gatewayCommand, json.RawMessage, *frameError) {
	typ, ref, _, ferr := envelope(data, gatewaySpecs)
	if ferr != nil {
		return gatewayCommand{}, ref, ferr
	}
	var cmd gatewayCommand
	if ferr := decodeStrict(data, &cmd); ferr != nil {
		return gatewayCommand{}, ref, ferr
	}
	cmd.Type, cmd.ID = typ, ref
	if ferr := cmd.validate(); ferr != nil {
		return gatewayCommand{}, ref, ferr
	}
	return cmd, ref, nil
}

func (c *gatewayCommand) validate() *frameError {
	switch c.Type {
	case "transcript":
		if ferr := idField("contact_id", c.ContactID); ferr != nil {
			return ferr
		}
		switch cases.PartyRole(c.Speaker) {
		case cases.RoleCitizen, cases.RoleAgent, cases.RoleInterpreter:
		default:
			return invalidf("speaker", "speaker must be citizen, agent or interpreter")
		}
		return text("text", c.Text)
	case "hangup":
		return idField("contact_id", c.ContactID)
	case "dial_result":
		return firstErr(idField("contact_id", c.ContactID), callbackResult(c.Result))
	case "connect_failed":
		if ferr := idField("contact_id", c.ContactID); ferr != nil {
			return ferr
		}
		if !cases.ValidConnectResult(c.Result) {
			return invalidf("result", "result must be no_answer, busy or failed")
		}
		return nil
	case "agent_hangup":
		return idField("contact_id", c.ContactID)
	case "recording":
		return c.validateRecording()
	case "rtc_offer", "rtc_state":
		return c.validateRTC()
	}
	return invalidf("type", "unknown frame type %q", truncate(c.Type, 40))
}

// recording is a valid recording frame's fields.
func (c gatewayCommand) recording() cases.Recording {
	return cases.Recording{File: c.File, Seconds: *c.Seconds, StartedAt: c.startedAt}
}

// validateRecording checks a recording frame and reads its started_at.
func (c *gatewayCommand) validateRecording() *frameError {
	if ferr := idField("contact_id", c.ContactID); ferr != nil {
		return ferr
	}
	if ferr := required("file", c.File); ferr != nil {
		return ferr
	}
	if len(c.File) > maxRecordingFile {
		return invalidf("file", "file is longer than %d bytes", maxRecordingFile)
	}
	if strings.ContainsFunc(c.File, unicode.IsControl) {
		return invalidf("file", "file must not contain control characters")
	}
	if c.Seconds == nil {
		return invalidf("seconds", "seconds is required")
	}
	if *c.Seconds < 0 || *c.Seconds > maxRecordingSeconds {
		return invalidf("seconds", "seconds must be 0-%d", maxRecordingSeconds)
	}
	if ferr := required("started_at", c.StartedAt); ferr != nil {
		return ferr
	}
	t, err := time.Parse(time.RFC3339, c.StartedAt)
	if err != nil {
		return invalidf("started_at", "started_at must be an RFC 3339 time")
	}
	c.startedAt = t
	return nil
}

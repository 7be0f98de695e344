package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// The fuzz targets feed arbitrary bytes to the server's strict JSON
// decoder and to the directory's validation of each request type. None may
// panic, and every error must be one the API answers with 400 validation
// (naming the field where it is about one) or 413 too_large.

// fuzzLimit is the body limit of the limited decoding, small so that the
// fuzzer reaches it.
const fuzzLimit = 512

// checkRequestError checks that err, from decoding or validating a
// request, classifies as a client error of the contract.
func checkRequestError(t *testing.T, step string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	he := (*Server)(nil).classify(err)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		if he.status != http.StatusRequestEntityTooLarge || he.Code != codeTooLarge {
			t.Fatalf("%s: body over the limit classified %d %q; want 413 too_large", step, he.status, he.Code)
		}
	case he.status != http.StatusBadRequest || he.Code != codeValidation:
		t.Fatalf("%s: error %v (%T) classified %d %q; want 400 validation", step, err, err, he.status, he.Code)
	}
	if he.Message == "" {
		t.Fatalf("%s: error %v has an empty message", step, err)
	}
	var ve *directory.ValidationError
	if errors.As(err, &ve) && ve.Field == "" {
		t.Fatalf("%s: validation error %q names no field", step, ve.Message)
	}
	if !utf8.ValidString(he.Message) || !utf8.ValidString(he.Field) {
		t.Fatalf("%s: error %q (field %q) is not valid UTF-8", step, he.Message, he.Field)
	}
}

// fuzzDecode decodes data into a T as the server does, once as bytes and
// once under a body limit, checks both outcomes, and returns the first.
func fuzzDecode[T any](t *testing.T, data []byte) (T, error) {
	t.Helper()
	var v T
	err := decodeBytes(data, &v)
	checkRequestError(t, "decode", err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		t.Fatalf("decoding bytes without a limit failed on a limit: %v", err)
	}
	var lv T
	lerr := decodeJSON(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(data)), fuzzLimit), &lv)
	checkRequestError(t, "decode under a limit", lerr)
	if errors.As(lerr, &mbe) {
		if len(data) <= fuzzLimit {
			t.Fatalf("%d bytes decoded as over the limit of %d", len(data), fuzzLimit)
		}
	} else if (err == nil) != (lerr == nil) {
		t.Fatalf("decoding with and without a limit disagree: %v / %v", err, lerr)
	}
	return v, err
}

// sameVerdict checks that a request decoded and validated again after a
// round trip through JSON gets the verdict it got the first time.
func sameVerdict[T any](t *testing.T, v T, first error, validate func(*T) error) {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	var again T
	if err := decodeBytes(js, &again); err != nil {
		t.Fatalf("the server's decoder refuses its own encoding %s: %v", js, err)
	}
	second := validate(&again)
	if fieldOf(first) != fieldOf(second) || (first == nil) != (second == nil) {
		t.Fatalf("round trip through %s changed the verdict: %v, then %v", js, first, second)
	}
}

func fieldOf(err error) string {
	var ve *directory.ValidationError
	if errors.As(err, &ve) {
		return ve.Field
	}
	return ""
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `"x"`, `{"a":1}`, `{} {}`, `{`, `{"id":"x"}x`, "\xff", `{"name":"\ud800"}`} {
		f.Add([]byte(s))
	}
}

func FuzzAgencyCreate(f *testing.F) {
	addSeeds(f,
		`{"id":"gov110","name":"국민권익위원회 110","description":"민원 상담"}`,
		`{"id":"Gov110","name":"x"}`, `{"id":"ab","name":" "}`, `{"id":"gov110","name":"n","description":5}`,
		`{"id":"gov110","name":"n","extra":true}`, `{"id":"`+strings.Repeat("a", 40)+`","name":"n"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := fuzzDecode[directory.AgencyCreate](t, data)
		if err != nil {
			return
		}
		verr := req.Validate()
		checkRequestError(t, "validate", verr)
		sameVerdict(t, req, verr, (*directory.AgencyCreate).Validate)
		if verr == nil && (!directory.ValidAgencyID(req.ID) || strings.TrimSpace(req.Name) == "" ||
			utf8.RuneCountInString(req.Name) > directory.MaxNameLen) {
			t.Fatalf("invalid agency accepted: %+v", req)
		}
	})
}

func FuzzAgencyPatch(f *testing.F) {
	addSeeds(f, `{"name":"새 이름"}`, `{"description":""}`, `{"name":""}`, `{"name":null,"description":null}`,
		`{"description":"`+strings.Repeat("d", 1001)+`"}`, `{"name":[1]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := fuzzDecode[directory.AgencyPatch](t, data)
		if err != nil {
			return
		}
		verr := req.Validate()
		checkRequestError(t, "validate", verr)
		sameVerdict(t, req, verr, (*directory.AgencyPatch).Validate)
		if verr == nil && req.Name != nil && strings.TrimSpace(*req.Name) == "" {
			t.Fatalf("blank agency name accepted: %+v", req)
		}
	})
}

var queueSeeds = []string{
	`{"id":"general","name":"일반 상담"}`,
	`{"id":"tax","name":"Tax","channels":["voice","chat","callback"],"required_skills":{"lang:ko":5,"topic:tax":3},
	  "strategy":"best-skill","offer_timeout_s":5,"wrapup_s":600,"widen_after_s":30,
	  "overflow":[{"after_s":60,"to":"gov110.general"}],"overflow_policy":"oldest-first",
	  "sla":{"answer_within_s":20,"target_pct":80},"callback_after_s":120,"max_waiting":100,"public":false}`,
	`{"id":"x","name":"n","channels":[]}`, `{"id":"x","name":"n","channels":["voice","voice"]}`,
	`{"id":"x","name":"n","channels":["fax"]}`, `{"id":"x","name":"n","offer_timeout_s":4}`,
	`{"id":"x","name":"n","wrapup_s":601}`, `{"id":"x","name":"n","strategy":"random"}`,
	`{"id":"x","name":"n","sla":{"answer_within_s":0,"target_pct":101}}`,
	`{"id":"x","name":"n","overflow":[{"after_s":1,"to":"nope"}]}`,
	`{"id":"x","name":"n","overflow":[{"after_s":1,"to":"gov110.x"}]}`,
	`{"id":"x","name":"n","overflow_policy":"all"}`,
	`{"id":"x","name":"n","required_skills":{"Lang:KO":11}}`,
	`{"id":"x","name":"n","offer_timeout_s":"20"}`, `{"id":"x","name":"n","sla":{"target_pct":1.5}}`,
	`{"id":"x","name":"n","offer_timeout_s":1e400}`, `{"id":"BAD","name":"n"}`, `{"id":"x"}`,
	`{"id":"interp","name":"통역","kind":"interpreter","channels":["chat","voice"],"callback_retries":0,"callback_retry_s":30}`,
	`{"id":"x","name":"n","kind":"interpreter","public":true}`, `{"id":"x","name":"n","kind":"interpreter","channels":["callback"]}`,
	`{"id":"x","name":"n","kind":"robot"}`, `{"id":"x","name":"n","callback_retries":11,"callback_retry_s":29}`,
}

func FuzzQueueCreate(f *testing.F) {
	addSeeds(f, queueSeeds...)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := fuzzDecode[directory.QueueCreate](t, data)
		if err != nil {
			return
		}
		verr := req.Validate()
		checkRequestError(t, "validate", verr)
		sameVerdict(t, req, verr, (*directory.QueueCreate).Validate)
		if verr != nil {
			return
		}
		// What the store does next, with the real agency.
		q, aerr := req.Queue("gov110")
		checkRequestError(t, "apply", aerr)
		if aerr == nil {
			checkQueue(t, q)
		}
	})
}

func FuzzQueueSettings(f *testing.F) {
	addSeeds(f, queueSeeds...)
	addSeeds(f, `{"name":"새 이름"}`, `{"overflow":[]}`, `{"overflow":null}`, `{"overflow":[{"after_s":10,"to":"gov110.general"}]}`,
		`{"public":true,"max_waiting":0}`, `{"max_waiting":100001}`, `{"callback_after_s":-1}`,
		`{"kind":"interpreter"}`, `{"kind":"interpreter","public":false}`, `{"kind":"service","callback_retry_s":86401}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := fuzzDecode[directory.QueueSettings](t, data)
		if err != nil {
			return
		}
		base := directory.NewQueue("gov110", "general")
		base.Name = "일반"
		q := base
		aerr := req.Apply(&q)
		checkRequestError(t, "apply", aerr)
		sameVerdict(t, req, aerr, func(s *directory.QueueSettings) error { c := base; return s.Apply(&c) })
		if aerr == nil {
			checkQueue(t, q)
			if q.ID != base.ID || q.Agency != base.Agency {
				t.Fatalf("a patch changed the queue's identity: %+v", q)
			}
		}
	})
}

// checkQueue checks a queue that passed validation against the contract.
func checkQueue(t *testing.T, q directory.Queue) {
	t.Helper()
	bad := func(what string) { t.Fatalf("accepted queue has %s: %+v", what, q) }
	if strings.TrimSpace(q.Name) == "" && q.Name != "" {
		bad("a blank name")
	}
	if len(q.Channels) == 0 || len(q.Channels) > 3 {
		bad("a bad channel list")
	}
	seen := map[string]bool{}
	for _, c := range q.Channels {
		if seen[c] || (c != "voice" && c != "chat" && c != "callback") {
			bad("a bad channel")
		}
		seen[c] = true
	}
	if q.OfferTimeoutS < 5 || q.OfferTimeoutS > 120 || q.WrapupS < 0 || q.WrapupS > 600 {
		bad("timers out of range")
	}
	if q.SLA.AnswerWithinS < 1 || q.SLA.TargetPct < 1 || q.SLA.TargetPct > 100 {
		bad("a bad sla")
	}
	switch q.Strategy {
	case "longest-idle", "round-robin", "fewest-contacts", "best-skill":
	default:
		bad("an unknown strategy")
	}
	for _, r := range q.Overflow {
		if !directory.ValidQueueID(r.To) || r.To == q.ID || r.AfterS < 0 {
			bad("a bad overflow rule")
		}
	}
	for k, v := range q.RequiredSkills {
		if k == "" || v < 1 || v > directory.MaxSkillLevel {
			bad("a bad required skill")
		}
	}
	if q.CallbackRetries < 0 || q.CallbackRetries > 10 || q.CallbackRetryS < 30 || q.CallbackRetryS > 86400 {
		bad("callback retries out of range")
	}
	switch q.Kind {
	case directory.KindService:
	case directory.KindInterpreter:
		if q.Public || seen[directory.ChannelCallback] {
			bad("an interpreter queue that is public or takes callbacks")
		}
	default:
		bad("an unknown kind")
	}
}

var userSeeds = []string{
	`{"username":"kim.minji","name":"김민지","password":"correct-horse-battery","role":"agent","agency":"gov110",
	  "skills":{"lang:ko":5,"topic:tax":3},"queues":[{"queue":"gov110.general","level":3}],"max_chats":3,"pii":false}`,
	`{"username":"admin2","name":"Admin","password":"correct-horse-battery","role":"admin"}`,
	`{"username":"gw","name":"Gateway","password":"correct-horse-battery","role":"gateway"}`,
	`{"username":"K","name":"n","password":"correct-horse-battery","role":"agent","agency":"gov110"}`,
	`{"username":"kim","name":"n","password":"short","role":"agent","agency":"gov110"}`,
	`{"username":"kim","name":"n","password":"correct-horse-battery","role":"root"}`,
	`{"username":"kim","name":"n","password":"correct-horse-battery","role":"admin","agency":"gov110"}`,
	`{"username":"kim","name":"n","password":"correct-horse-battery","role":"agent"}`,
	`{"username":"kim","name":"n","password":"correct-horse-battery","role":"agent","agency":"gov110","queues":[{"queue":"x"}]}`,
	`{"username":"kim","name":"n","password":"correct-horse-battery","role":"agent","agency":"gov110","queues":[{"queue":"gov110.a","level":11}]}`,
	`{"username":"kim","name":"n","password":"correct-horse-battery","role":"agent","agency":"gov110","max_chats":21}`,
	`{"username":"kim","name":"n","password":"correct-horse-battery","role":"agent","agency":"gov110","skills":{"lang:ko":"5"}}`,
	`{"username":"kim","name":"n","password":"비밀번호비밀번호비밀","role":"agent","agency":"gov110"}`,
}

func FuzzUserCreate(f *testing.F) {
	addSeeds(f, userSeeds...)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := fuzzDecode[directory.UserCreate](t, data)
		if err != nil {
			return
		}
		verr := req.Validate()
		checkRequestError(t, "validate", verr)
		sameVerdict(t, req, verr, (*directory.UserCreate).Validate)
		if verr != nil {
			return
		}
		u := req.NewUser()
		if directory.CheckPassword(req.Password) != nil || u.Username != req.Username || strings.TrimSpace(u.Name) == "" {
			t.Fatalf("invalid user accepted: %+v", req)
		}
		if u.Role == directory.RoleAdmin && u.Agency != "" ||
			(u.Role == directory.RoleAgent || u.Role == directory.RoleSupervisor) && u.Agency == "" {
			t.Fatalf("accepted user has role %q with agency %q", u.Role, u.Agency)
		}
		if u.MaxChats < 0 || u.MaxChats > directory.MaxChatsLimit {
			t.Fatalf("accepted user has max_chats %d", u.MaxChats)
		}
		for _, m := range u.Queues {
			if !directory.ValidQueueID(m.Queue) || m.Level < 1 || m.Level > directory.MaxSkillLevel {
				t.Fatalf("accepted user has membership %+v", m)
			}
		}
	})
}

func FuzzUserPatch(f *testing.F) {
	addSeeds(f, userSeeds...)
	addSeeds(f, `{"name":"새 이름"}`, `{"password":"a-new-long-password"}`, `{"role":"supervisor"}`, `{"role":"admin"}`,
		`{"queues":[]}`, `{"queues":null}`, `{"skills":{}}`, `{"pii":true}`, `{"max_chats":0}`, `{"max_chats":-1}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := fuzzDecode[directory.UserPatch](t, data)
		if err != nil {
			return
		}
		base := directory.User{
			Username: "kim", Name: "Kim", Role: directory.RoleAgent, Agency: "gov110",
			Skills: map[string]int{"lang:ko": 5}, Queues: []directory.Membership{{Queue: "gov110.general", Level: 1}}, MaxChats: 3,
		}
		u := base
		u.Skills = map[string]int{"lang:ko": 5}
		aerr := req.Apply(&u)
		checkRequestError(t, "apply", aerr)
		sameVerdict(t, req, aerr, func(p *directory.UserPatch) error {
			c := base
			c.Skills = map[string]int{"lang:ko": 5}
			return p.Apply(&c)
		})
		if aerr != nil {
			return
		}
		if u.Username != base.Username || u.Agency != base.Agency {
			t.Fatalf("a patch changed the user's identity: %+v", u)
		}
		if u.Role == directory.RoleAdmin {
			t.Fatalf("a user of agency %s became an admin", u.Agency)
		}
		if u.MaxChats < 0 || u.MaxChats > directory.MaxChatsLimit || strings.TrimSpace(u.Name) == "" {
			t.Fatalf("accepted patch leaves %+v", u)
		}
	})
}

// FuzzLogin drives POST /v1/sessions itself: the login request has no
// Validate of its own, its checks live in the handler.
func FuzzLogin(f *testing.F) {
	h := newHarness(f, sqltest.Open(f, "sqlite"), func(c *Config) {
		c.MaxBodyBytes = fuzzLimit
		c.LoginBurstAddr, c.LoginBurstUser = 1<<30, 1<<30 // the fuzzer logs in millions of times
	})
	handler := h.server.Handler()
	addSeeds(f,
		`{"username":"admin","password":"`+testPassword+`"}`,
		`{"username":"admin","password":"wrong-password"}`,
		`{"username":"nobody","password":"whatever-it-is"}`,
		`{"username":"","password":"x"}`, `{"username":"admin"}`, `{"username":"admin","password":""}`,
		`{"username":7,"password":"x"}`, `{"username":"admin","password":"x","otp":"1"}`,
		`{"username":"`+strings.Repeat("a", 65)+`","password":"x"}`,
		`{"username":"admin","password":"`+strings.Repeat("p", 600)+`"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/sessions", bytes.NewReader(data))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		r := &response{method: "POST", path: "/v1/sessions", status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		switch rec.Code {
		case http.StatusCreated:
			return
		case http.StatusUnauthorized:
			r.wantError(t, rec.Code, codeUnauthorized, "")
		case http.StatusRequestEntityTooLarge:
			r.wantError(t, rec.Code, codeTooLarge, "")
			if len(data) <= fuzzLimit {
				t.Errorf("%d bytes refused as over the limit of %d", len(data), fuzzLimit)
			}
		case http.StatusBadRequest:
			if e, ok := strictError(t, r); ok && e.Code != codeValidation {
				t.Errorf("400 with code %q; want validation", e.Code)
			}
		default:
			t.Errorf("login with %q answered %d: %s", data, rec.Code, rec.Body.Bytes())
		}
	})
}

// FuzzCallbackRequest: the body of POST /v1/contacts/{id}/callback decodes
// or is refused with a clear validation error, never anything else.
func FuzzCallbackRequest(f *testing.F) {
	addSeeds(f, `{"number":"01012345678"}`, `{"number":"+821012345678","callback_at":"2026-11-22T09:30:00Z"}`,
		`{"number":"0101234","callback_at":"not a time"}`, `{"number":5}`, `{"number":"0101234","when":"now"}`,
		`{"callback_at":null}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := fuzzDecode[callbackRequest](t, data)
		if err != nil {
			return
		}
		sameVerdict(t, req, nil, func(*callbackRequest) error { return nil })
	})
}

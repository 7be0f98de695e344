package web

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/router"
	"tellonce/sql/sqltest"
)

// TestQueueKinds: an interpreter queue is created, read back, patched and
// turned into a service queue and back, with the rules of its kind held on
// every result, and the router given each committed change.
func TestQueueKinds(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		const id = "gov110.interpreters"
		routed := func(t *testing.T, kind router.QueueKind, retries int, after time.Duration) {
			t.Helper()
			cfg, err := h.router.Queue(id)
			if err != nil {
				t.Fatalf("router.Queue(%q): %v", id, err)
			}
			if cfg.Kind != kind || cfg.CallbackRetries != retries || cfg.CallbackRetryAfter != after {
				t.Errorf("router's %s = kind %q, callback retries %d every %v; want %q, %d every %v",
					id, cfg.Kind, cfg.CallbackRetries, cfg.CallbackRetryAfter, kind, retries, after)
			}
		}

		// Created without "public": an interpreter queue is not public.
		r := h.do(http.MethodPost, "/v1/agencies/gov110/queues", asSup, queueBody("interpreters", map[string]any{
			"kind": "interpreter", "channels": []string{"chat", "voice"}, "callback_retries": 3, "callback_retry_s": 45,
		}))
		var q directory.Queue
		if !r.wantStatus(t, http.StatusCreated) || !r.decode(t, &q) {
			t.FailNow()
		}
		if q.Kind != directory.KindInterpreter || q.Public || q.CallbackRetries != 3 || q.CallbackRetryS != 45 {
			t.Errorf("created interpreter queue = %+v; want kind interpreter, not public, retries 3 every 45 s", q)
		}
		var raw map[string]any
		if r.decode(t, &raw) && (raw["kind"] != "interpreter" || raw["callback_retries"] != 3.0 || raw["callback_retry_s"] != 45.0) {
			t.Errorf("%s answered %s; want kind, callback_retries and callback_retry_s by those names", r, r.body)
		}
		if got, _ := h.getQueue(id); fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", q) {
			t.Errorf("interpreter queue read back\n  = %+v\n  created %+v", got, q)
		}
		routed(t, router.QueueInterpreter, 3, 45*time.Second)

		// Refused patches leave it as it was, in the directory and the router.
		for _, c := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"made public", map[string]any{"public": true}, "public"},
			{"made public with a new name", map[string]any{"name": "통역", "public": true}, "public"},
			{"given callbacks", map[string]any{"channels": []string{"chat", "callback"}}, "channels"},
			{"given only callbacks", map[string]any{"channels": []string{"callback"}}, "channels"},
			{"retries out of range", map[string]any{"callback_retries": 11}, "callback_retries"},
		} {
			t.Run(c.name, func(t *testing.T) {
				h := h.on(t)
				before := h.snapshot()
				h.clock.Advance(time.Second)
				h.do(http.MethodPatch, "/v1/queues/"+id, asSup, c.body).wantError(t, http.StatusBadRequest, codeValidation, c.field)
				h.unchanged(t, before, "refused patch of an interpreter queue: "+c.name)
			})
		}
		routed(t, router.QueueInterpreter, 3, 45*time.Second)

		// The kind may change; each result obeys its kind's rules.
		for _, c := range []struct {
			name    string
			body    map[string]any
			status  int
			field   string
			kind    string
			public  bool
			retries int
			retryS  int
		}{
			{"retry pause", map[string]any{"callback_retry_s": 600}, http.StatusOK, "", "interpreter", false, 3, 600},
			{"to service, still not public", map[string]any{"kind": "service"}, http.StatusOK, "", "service", false, 3, 600},
			{"service made public with callbacks", map[string]any{"public": true, "channels": []string{"voice", "chat", "callback"}, "callback_retries": 0},
				http.StatusOK, "", "service", true, 0, 600},
			{"back to interpreter while public", map[string]any{"kind": "interpreter"}, http.StatusBadRequest, "public", "service", true, 0, 600},
			{"back to interpreter with callbacks", map[string]any{"kind": "interpreter", "public": false}, http.StatusBadRequest, "channels", "service", true, 0, 600},
			{"back to interpreter", map[string]any{"kind": "interpreter", "public": false, "channels": []string{"voice"}}, http.StatusOK, "", "interpreter", false, 0, 600},
		} {
			r := h.do(http.MethodPatch, "/v1/queues/"+id, asAdmin, c.body)
			if c.status == http.StatusOK {
				var got directory.Queue
				if r.wantStatus(t, http.StatusOK) && r.decode(t, &got) {
					if back, _ := h.getQueue(id); fmt.Sprintf("%+v", back) != fmt.Sprintf("%+v", got) {
						t.Errorf("%s: read back\n  = %+v\n  answered %+v", c.name, back, got)
					}
				}
			} else {
				r.wantError(t, c.status, codeValidation, c.field)
			}
			got, _ := h.getQueue(id)
			if got.Kind != c.kind || got.Public != c.public || got.CallbackRetries != c.retries || got.CallbackRetryS != c.retryS {
				t.Errorf("%s: queue = kind %q, public %v, retries %d every %d s; want %q, %v, %d every %d s",
					c.name, got.Kind, got.Public, got.CallbackRetries, got.CallbackRetryS, c.kind, c.public, c.retries, c.retryS)
			}
			routed(t, router.QueueKind(c.kind), c.retries, time.Duration(c.retryS)*time.Second)
		}
	})
}

// TestQueueKindColumnsDefault: a queue stored before migration 0005 (a row
// without the new columns) reads back as a service queue with the default
// callback retries, on both backends.
func TestQueueKindColumnsDefault(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		_, err := h.db.ExecContext(h.ctx(), h.db.Rebind(`INSERT INTO queues (id, agency_id, name, channels, required_skills,
			strategy, offer_timeout_s, wrapup_s, widen_after_s, overflow_policy, sla_answer_within_s, sla_target_pct,
			callback_after_s, max_waiting, public, created_at, updated_at)
			VALUES ('gov110.old', 'gov110', 'Old', '["voice"]', '{}', 'longest-idle', 20, 10, 30, 'own-first', 20, 80, 0, 0, ?, ?, ?)`),
			true, h.clock.Now(), h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		q, ok := h.getQueue("gov110.old")
		if !ok || q.Kind != directory.KindService || q.CallbackRetries != directory.DefaultCallbackRetries ||
			q.CallbackRetryS != directory.DefaultCallbackRetryS {
			t.Errorf("queue stored without the new columns = %+v (exists %v); want kind service, retries %d every %d s",
				q, ok, directory.DefaultCallbackRetries, directory.DefaultCallbackRetryS)
		}
	})
}

package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"tellonce/sql/sqltest"
	"tellonce/stats"
)

// closedAnswer is the body of a 409 closed.
type closedAnswer struct {
	Error     apiError   `json:"error"`
	OpensAt   *time.Time `json:"opens_at"`
	Label     string     `json:"label"`
	LabelEn   string     `json:"label_en"`
	Callbacks bool       `json:"callbacks"`
}

// TestClosedQueue: a queue given hours through the API is closed outside
// them (the clock starts on Monday 18:00 in Seoul): new chats and calls are
// refused with when it opens, the status answer and page and the chat page
// say so in words, and who waited at closing time is still served.
func TestClosedQueue(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		const q = "gov110.general"
		waiting := h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody(q, "early"), withOrigin(h.ts.URL))
		var early created
		if !waiting.wantStatus(t, http.StatusCreated) || !waiting.decode(t, &early) {
			return
		}

		// Refused settings name their field and change nothing.
		before := h.snapshot()
		h.do(http.MethodPatch, "/v1/queues/"+q, asAdmin, map[string]any{"hours": map[string]any{
			"mon": []map[string]string{{"start": "09:00", "end": "18:60"}}}}).wantError(t, http.StatusBadRequest, codeValidation, "hours.mon[0].end")
		h.do(http.MethodPatch, "/v1/queues/"+q, asAdmin, map[string]any{"aging_s": -5}).wantError(t, http.StatusBadRequest, codeValidation, "aging_s")
		h.do(http.MethodPatch, "/v1/agencies/gov110", asAdmin, map[string]any{"time_zone": "Seoul"}).wantError(t, http.StatusBadRequest, codeValidation, "time_zone")
		h.do(http.MethodPatch, "/v1/agencies/gov110", asAdmin, map[string]any{"holidays": []map[string]string{{"date": "3/1"}}}).wantError(t, http.StatusBadRequest, codeValidation, "holidays[0].date")
		h.unchanged(t, before, "refused hours")

		day := []map[string]string{{"start": "09:00", "end": "18:00"}}
		r := h.do(http.MethodPatch, "/v1/queues/"+q, asSup, map[string]any{"hours": map[string]any{
			"mon": day, "tue": day, "wed": day, "thu": day, "fri": day}, "aging_s": 120,
			"channels": []string{"voice", "chat", "callback"}})
		if !r.wantStatus(t, http.StatusOK) {
			return
		}
		var got struct {
			Hours  map[string][]map[string]string `json:"hours"`
			AgingS int                            `json:"aging_s"`
		}
		if r.decode(t, &got); got.AgingS != 120 || len(got.Hours["tue"]) != 1 || got.Hours["tue"][0]["end"] != "18:00" {
			t.Errorf("PATCH answered hours %v, aging_s %d", got.Hours, got.AgingS)
		}
		if cfg, err := h.router.Queue(q); err != nil || cfg.Aging != 120*time.Second || cfg.Hours == nil {
			t.Fatalf("the router's copy: aging %v, hours %v, %v", cfg.Aging, cfg.Hours, err)
		}

		opens := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC) // Tuesday 09:00 in Seoul
		for _, c := range []struct {
			as   string
			body map[string]any
		}{
			{asAnon, chatBody(q, "late")},
			{asGateway, map[string]any{"channel": "voice", "queue": q, "caller": map[string]any{"id": "+821012345678"}}},
		} {
			r := h.do(http.MethodPost, "/v1/contacts", c.as, c.body, withOrigin(h.ts.URL))
			var a closedAnswer
			if !r.wantStatus(t, http.StatusConflict) || !r.decode(t, &a) {
				continue
			}
			if a.Error.Code != codeClosed || a.Error.Field != "queue" || a.OpensAt == nil || !a.OpensAt.Equal(opens) ||
				a.Label != "운영 시간이 아닙니다 — 화 09:00에 엽니다" || a.LabelEn != "Closed — opens Tue 09:00" || !a.Callbacks {
				t.Errorf("%s: closed answer %s", c.body["channel"], r.body)
			}
		}

		// The gateway's callback asked for now is booked for the opening.
		cb := h.do(http.MethodPost, "/v1/contacts", asGateway, map[string]any{"channel": "callback", "queue": q,
			"caller": map[string]any{"id": "+821099998888"}, "callback_number": "01099998888"})
		var booked struct {
			Status     string     `json:"status"`
			CallbackAt *time.Time `json:"callback_at"`
		}
		if cb.wantStatus(t, http.StatusCreated) && cb.decode(t, &booked) &&
			(booked.Status != "scheduled" || booked.CallbackAt == nil || !booked.CallbackAt.Equal(opens)) {
			t.Errorf("callback while closed = %s at %v; want scheduled at %v", booked.Status, booked.CallbackAt, opens)
		}

		// The agency's holiday on Tuesday moves the opening to Wednesday.
		h.do(http.MethodPatch, "/v1/agencies/gov110", asAdmin, map[string]any{
			"holidays": []map[string]string{{"date": "2026-03-03", "name": "임시 공휴일"}}}).wantStatus(t, http.StatusOK)

		h.clock.Advance(time.Second) // a new computation of the figures
		var items []stats.PublicQueue
		if r := h.do(http.MethodGet, "/v1/status", asAnon, nil); r.wantStatus(t, http.StatusOK) && r.decode(t, &items) {
			found := false
			for _, it := range items {
				if it.Queue != q {
					continue
				}
				found = true
				if it.Light != stats.LightClosed || it.Label != "운영 시간이 아닙니다 — 수 09:00에 엽니다" ||
					it.LabelEn != "Closed — opens Wed 09:00" || it.OpensAt == nil || it.EstimatedWaitS != nil {
					b, _ := json.Marshal(it)
					t.Errorf("status of the closed queue: %s", b)
				}
			}
			if !found {
				t.Errorf("status lists no %s", q)
			}
		}
		for lang, words := range map[string]string{"ko": "운영 시간이 아닙니다 — 수 09:00에 엽니다", "en": "Closed — opens Wed 09:00"} {
			page := h.do(http.MethodGet, "/status?lang="+lang, asAnon, nil)
			body := string(page.body)
			if !page.wantStatus(t, http.StatusOK) || !strings.Contains(body, `class="light light-closed">`+words+`<`) {
				t.Errorf("/status?lang=%s does not say %q with the closed look", lang, words)
			}
			chat := h.do(http.MethodGet, "/chat?lang="+lang, asAnon, nil)
			if !chat.wantStatus(t, http.StatusOK) || !strings.Contains(string(chat.body), words) {
				t.Errorf("/chat?lang=%s does not say %q", lang, words)
			}
		}

		// Who waited at closing time stays in line and is served; nobody
		// is counted as abandoned.
		h.online(t, asAgent)
		var st struct {
			Status string `json:"status"`
		}
		if r := h.do(http.MethodGet, "/v1/contacts/"+early.ContactID, asAnon, nil, withHeader("X-Citizen-Token", early.CitizenToken)); r.wantStatus(t, http.StatusOK) && r.decode(t, &st) {
			if st.Status != "offered" {
				t.Errorf("the contact waiting at closing time is %q; want offered", st.Status)
			}
		}
		for _, qs := range h.stats.Queues() {
			if qs.Queue == q && qs.Today.Abandoned != 0 {
				t.Errorf("abandoned today = %d; want 0", qs.Today.Abandoned)
			}
		}
	})
}

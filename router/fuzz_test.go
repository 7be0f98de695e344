package router

import (
	"errors"
	"testing"
)

// FuzzEnqueue checks that any request is either rejected with ErrInvalid
// (changing nothing) or accepted into a consistent state.
func FuzzEnqueue(f *testing.F) {
	f.Add("voice", "q", "010-1234", "Kim", "ko", 0, "summary", "0212345678", "", "lang:ko", 1)
	f.Add("callback", "q", "x", "", "", 5, "", "", "", "", 0)
	f.Add("chat", "q\x00", "a\x00b", "", "zh-Hant", 1001, "", "+82", "cs1", "sk", -1)
	f.Fuzz(func(t *testing.T, channel, q, callerID, name, lang string, prio int, summary, cb, caseID, skill string, lvl int) {
		fx := newFixture(t, []QueueConfig{queue("q")}, nil)
		req := EnqueueRequest{Channel: Channel(channel), Queue: q, Caller: Caller{ID: callerID, Name: name, Language: lang},
			Priority: prio, Context: ContactContext{Summary: summary}, CallbackNumber: cb, CaseID: caseID,
			Skills: map[string]int{skill: lvl}}
		verr := req.Validate()
		c, _, err := fx.r.Enqueue(req)
		if verr != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Enqueue of invalid request (%v) = %v; want ErrInvalid", verr, err)
			}
			if s, _ := fx.r.QueueSnapshot("q"); s.Waiting != 0 {
				t.Fatalf("a rejected request left %d waiting", s.Waiting)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Enqueue(valid request) = %v", err)
			}
			return
		}
		if c.Position != 1 || c.Status != StatusQueued {
			t.Fatalf("accepted contact %+v; want queued at 1", c)
		}
		checkInvariants(t, fx.r, map[string]bool{c.ID: true})
	})
}

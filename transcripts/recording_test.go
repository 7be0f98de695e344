package transcripts

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// A recording entry is durable: the review's timeline lists it, exports
// carry it (the entry, not the audio), and a restart restores it into the
// open case.
func TestRecordingIsKeptReviewedAndRestored(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		c := w.enqueue(caller("voice-1"))
		w.accept(c.ID)
		file := "rec/2026/03/02/" + c.ID + ".wav"
		w.ack(w.r.Record(c.ID, "gateway:gw", router.Recording{File: file, Seconds: 312, StartedAt: t0}))

		isRecording := func(e router.CaseEvent) bool {
			return e.Type == router.CaseRecording && e.Actor == "gateway:gw" && e.Data["file"] == file &&
				e.Data["seconds"] == "312" && e.Data["started_at"] == t0.UTC().Format(time.RFC3339) && e.Data["contact_id"] == c.ID
		}
		stored := storedEvents(t, w.db, c.CaseID)
		if !containsEvent(stored, isRecording) {
			t.Fatalf("stored timeline %+v has no recording entry", stored)
		}

		// A restart restores the open case with its recording entry.
		s := mixedState{queues: []router.QueueConfig{agencyQueue("gov110.general"), agencyQueue("gov110.cert"), agencyQueue("nts126.tax")},
			agents: []router.AgentProfile{agentIn("kim", "gov110", "gov110.general"), agentIn("park", "gov110", "gov110.cert"),
				agentIn("lee", "nts126", "nts126.tax")}}
		r2, _, _ := restart(t, w.db, w.clock, s, "b-")
		cs, err := r2.Case(c.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if !containsEvent(cs.Events, isRecording) {
			t.Errorf("restored case %+v has no recording entry", cs.Events)
		}

		tl, err := w.rv.Timeline(context.Background(), c.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range tl.Events {
			found = found || (e.Type == router.CaseRecording && e.Data["file"] == file && e.Data["seconds"] == "312")
		}
		if !found {
			t.Errorf("the review's timeline %+v has no recording entry", tl.Events)
		}
		for _, format := range ExportFormats {
			var out bytes.Buffer
			if err := tl.Export(&out, format); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), file) || !strings.Contains(out.String(), "recording") {
				t.Errorf("the %s export lacks the recording entry:\n%s", format, out.String())
			}
		}
	})
}

func containsEvent(evs []router.CaseEvent, f func(router.CaseEvent) bool) bool {
	for _, e := range evs {
		if f(e) {
			return true
		}
	}
	return false
}

// A recording that arrives after its case closed — the edge finishes a
// leg's file when the leg ends — is appended to the closed case, within
// the gateway's reach, after every entry of the router's.
func TestAppendRecordingToAClosedCase(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		rec := router.Recording{File: "rec/leg.wav", Seconds: 42, StartedAt: t0}
		ctx := context.Background()

		open := w.enqueue(caller("voice-open"))
		w.accept(open.ID)
		if err := w.rv.AppendRecording(ctx, "", open.ID, "gateway:gw", rec); !errors.Is(err, ErrCaseOpen) {
			t.Errorf("AppendRecording(open case) = %v; want ErrCaseOpen", err)
		}
		w.ack(w.r.AgentHangup(open.ID)) // kim is free for the next call

		unanswered := w.enqueue(caller("voice-gone", func(r *router.EnqueueRequest) { r.Queue = "gov110.cert" }))
		if unanswered.Status == router.StatusOffered {
			w.ack(w.r.Decline(unanswered.Agent, unanswered.OfferID, ""))
		}
		w.ack(w.r.CallerHangup(unanswered.ID))

		call := w.enqueue(caller("voice-done"))
		w.accept(call.ID)
		w.ack(w.r.AgentHangup(call.ID))
		before := storedEvents(t, w.db, call.CaseID)
		chat := w.chat("gov110.general", "resolved", "안녕하세요")
		chatCase, err := w.rv.Timeline(ctx, chat)
		if err != nil {
			t.Fatal(err)
		}
		chatID := chatCase.Legs[0].ContactID

		for _, c := range []struct {
			name, agency, contact string
			want                  error
		}{
			{"another agency's gateway", "nts126", call.ID, router.ErrNotFound},
			{"a chat", "", chatID, router.ErrNotFound},
			{"an unknown contact", "", "ct-nope", router.ErrNotFound},
			{"a leg nobody answered", "gov110", unanswered.ID, router.ErrConflict},
		} {
			if err := w.rv.AppendRecording(ctx, c.agency, c.contact, "gateway:gw", rec); !errors.Is(err, c.want) {
				t.Errorf("%s: AppendRecording = %v; want %v", c.name, err, c.want)
			}
		}
		if got := storedEvents(t, w.db, call.CaseID); len(got) != len(before) {
			t.Fatalf("refused appends stored %d entries", len(got)-len(before))
		}
		bad := rec
		bad.File = "a\x00b"
		if err := w.rv.AppendRecording(ctx, "", call.ID, "gateway:gw", bad); !errors.Is(err, router.ErrInvalid) {
			t.Errorf("AppendRecording(bad file) = %v; want invalid", err)
		}

		if err := w.rv.AppendRecording(ctx, "gov110", call.ID, "gateway:gw", rec); err != nil {
			t.Fatalf("AppendRecording = %v", err)
		}
		after := storedEvents(t, w.db, call.CaseID)
		if len(after) != len(before)+1 {
			t.Fatalf("stored %d entries; want %d", len(after), len(before)+1)
		}
		last := after[len(after)-1]
		if last.Seq != before[len(before)-1].Seq+1 || last.Type != router.CaseRecording || last.Actor != "gateway:gw" ||
			last.Data["file"] != "rec/leg.wav" || last.Data["seconds"] != "42" || last.Data["contact_id"] != call.ID {
			t.Errorf("appended entry = %+v", last)
		}
		tl, err := w.rv.Timeline(ctx, call.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if e := tl.Events[len(tl.Events)-1]; e.Type != router.CaseRecording || e.Agency != "gov110" {
			t.Errorf("the review's last entry = %+v; want the recording, in gov110", e)
		}
	})
}

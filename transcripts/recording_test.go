package transcripts

import (
	"bytes"
	"context"
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

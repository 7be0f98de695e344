package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tellonce/clocktest"
)

// TestEdgeRecordsOnlyTheQueuesThatRecord: a call answered in a queue the
// dial plan lists as unrecorded leaves no recording and its caller hears
// no notice; cold-transferred into a recorded queue, the caller hears the
// notice while the next phone rings and that leg is recorded.
func TestEdgeRecordsOnlyTheQueuesThatRecord(t *testing.T) {
	s := startServer(t, "sqlite")
	recDir := t.TempDir()
	plan := filepath.Join(t.TempDir(), "dialplan.yaml")
	if err := os.WriteFile(plan, []byte(edgePlan+"unrecorded: [nts126.year-end]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEdge(t, s, "--recording-dir", recDir, "--dialplan", plan, "--transfer-grace", "500ms")
	phoneA, phoneB := newPhone(t, "phone-a"), newPhone(t, "phone-b")
	phoneA.register(t, e, "han.jiwon")
	phoneB.register(t, e, "yoon.taeyang")
	agentA := s.availableAgent(t, "han.jiwon")

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501299")
	walkToYearEnd(t, d)
	offer := agentA.awaitFunc(t, "the call's offer", typed("offer"))
	caseID, first := offer.str("contact", "case_id"), offer.str("contact", "contact_id")
	clocktest.EventuallyNil(t, "the call in line", waitTime, func() error {
		logs := e.logs.String()
		if !strings.Contains(logs, "call in line") {
			return fmt.Errorf("not in line yet")
		}
		if !strings.Contains(logs, "recorded=false") {
			return fmt.Errorf("the call went in line recorded; want not (nts126.year-end is unrecorded)")
		}
		return nil
	})
	agentA.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	callA := awaitAnswered(t, phoneA)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(10, "agent A hearing the caller", &callA.heard))

	agentA.ack(t, obj{"type": "transfer", "contact_id": first, "to": obj{"queue": "nts126.general"}, "mode": "cold"})
	awaitEnded(t, "agent A's phone call", callA.done)
	agentB := s.availableAgent(t, "yoon.taeyang")
	offerB := agentB.awaitFunc(t, "the transferred call's offer", typed("offer"))
	second := offerB.str("contact", "contact_id")
	agentB.ack(t, obj{"type": "accept", "offer_id": offerB.str("offer_id")})
	callB := awaitAnswered(t, phoneB)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "agent B hearing the caller", &callB.heard))
	if !strings.Contains(e.logs.String(), "recording notice") {
		t.Errorf("no recording notice before the recorded leg:\n%s", tail(e.logs.String(), 20))
	}
	agentB.ack(t, obj{"type": "end", "contact_id": second, "disposition": "resolved", "summary": "녹음 확인"})
	awaitEnded(t, "the caller's call", c.done)

	clocktest.EventuallyNil(t, "the recorded leg's file", waitTime, func() error {
		got, _ := filepath.Glob(filepath.Join(s.recordingDir(), "*", caseID+"_"+second+"_*.wav"))
		if len(got) != 1 {
			return fmt.Errorf("recordings of the recorded leg on the server: %v; want one", got)
		}
		return nil
	})
	for _, dir := range []string{recDir, s.recordingDir()} {
		if got, _ := filepath.Glob(filepath.Join(dir, "*", caseID+"_"+first+"_*.wav")); len(got) != 0 {
			t.Errorf("the unrecorded leg was recorded: %v", got)
		}
	}
}

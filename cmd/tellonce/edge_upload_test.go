package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/recordings"
	"tellonce/sql/sqltest"
)

// TestEdgeUploadsItsSpoolWhenTheRouterIsBack: an edge starts with a
// recording left in its spool (a leg it finished before a restart) while
// the router is down; it keeps the file and retries, and once the router
// is back the file is on the server, in the case's timeline, and gone
// from the spool.
func TestEdgeUploadsItsSpoolWhenTheRouterIsBack(t *testing.T) {
	dsn := sqltest.DSN(t, "sqlite")
	s, stop := serveOn(t, dsn, "--trust-proxy", "127.0.0.1,::1")
	u, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	gw := s.loginDemo(t, "gateway")
	agent := s.availableAgent(t, "han.jiwon")
	var c struct {
		ContactID string `json:"contact_id"`
		CaseID    string `json:"case_id"`
	}
	s.call(t, "POST", "/v1/contacts", gw, obj{"channel": "voice", "queue": "nts126.general",
		"caller": obj{"id": "+821055501277"}}, 201, &c)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	agent.Close()
	stop()

	spool := t.TempDir()
	store, err := recordings.New(recordings.Config{Dir: spool})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.Begin(context.Background(), recordings.Meta{CaseID: c.CaseID, ContactID: c.ContactID, Law: recordings.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 { // a second each way
		if err := rec.WriteCaller(make([]byte, 160)); err != nil {
			t.Fatal(err)
		}
		if err := rec.WriteAgent(make([]byte, 160)); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}

	e := launchEdge(t, s, "--recording-dir", spool)
	clocktest.EventuallyNil(t, "an upload tried while the router is down", waitTime, func() error {
		if !strings.Contains(e.logs.String(), "recording upload failed; will retry") {
			return fmt.Errorf("no failed upload logged yet")
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(spool, filepath.FromSlash(sum.File))); err != nil {
		t.Fatalf("the spool lost the recording while the router was down: %v", err)
	}

	s2, _ := serveOn(t, dsn, "--trust-proxy", "127.0.0.1,::1", "--addr", "127.0.0.1:"+u.Port())
	// Backoff doubles from 1 s: the retry after the router is back comes
	// within about twice the time it was down.
	clocktest.EventuallyNil(t, "the recording uploaded", 40*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(s2.recordingDir(), filepath.FromSlash(sum.File))); err != nil {
			return fmt.Errorf("not on the server: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(spool, "*", "*")); len(left) != 0 {
			return fmt.Errorf("the spool still holds %v", left)
		}
		return nil
	})
	var cs caseDoc
	s2.call(t, "GET", "/v1/cases/"+c.CaseID, s2.admin(t), nil, 200, &cs)
	if _, ok := cs.find("recording", "", "file", path.Base(sum.File), "seconds", "1"); !ok {
		t.Errorf("the case has no entry for the uploaded recording:%s", cs.describe())
	}
}

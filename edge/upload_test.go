package edge

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/recordings"
)

// fakeRouter answers uploads: down (503) until up is set, then 201, and
// 404 for the contact "ct-gone" (its case was erased).
type fakeRouter struct {
	mu   sync.Mutex
	up   bool
	got  map[string]int // bytes received by path
	auth []string
	down int // 503s answered
}

func (f *fakeRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	switch {
	case r.Method != http.MethodPut || r.Header.Get("Content-Type") != "audio/wav":
		w.WriteHeader(http.StatusBadRequest)
	case !f.up:
		f.down++
		w.WriteHeader(http.StatusServiceUnavailable)
	case strings.Contains(r.URL.Path, "/ct-gone/"):
		w.WriteHeader(http.StatusNotFound)
	default:
		f.got[r.URL.Path] = len(b)
		w.WriteHeader(http.StatusCreated)
	}
}

func (f *fakeRouter) state() (up bool, down int, got map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := map[string]int{}
	for k, v := range f.got {
		g[k] = v
	}
	return f.up, f.down, g
}

// record makes a finished recording of contact in the spool.
func record(t *testing.T, s *recordings.Store, contact string, at time.Time) string {
	t.Helper()
	r, err := s.Begin(context.Background(), recordings.Meta{CaseID: "cs-1", ContactID: contact, Started: at, Law: recordings.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCaller(make([]byte, 160)); err != nil {
		t.Fatal(err)
	}
	sum, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	return sum.File
}

// TestSpoolUploadsOnceTheRouterIsUp: recordings left in the spool (an
// edge restarted) and one finished while the router is down are kept and
// retried with backoff; once the router is up each is uploaded once and
// deleted; one the router refuses for good (its case erased) is deleted.
func TestSpoolUploadsOnceTheRouterIsUp(t *testing.T) {
	fr := &fakeRouter{got: map[string]int{}}
	srv := httptest.NewServer(fr)
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	store, err := recordings.New(recordings.Config{Dir: t.TempDir(), Retention: -1})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 4, 35, 0, 0, time.UTC)
	left := record(t, store, "ct-left", at)
	record(t, store, "ct-gone", at.Add(time.Second))

	u := newUploader(newAPI(&Config{Router: base, Token: "gw-token"}), store, slog.New(slog.DiscardHandler))
	u.retryMin, u.retryMax = 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	clocktest.Eventually(t, "retries while the router is down", 10*time.Second, func() bool {
		_, down, _ := fr.state()
		return down >= 3
	})
	fresh := record(t, store, "ct-fresh", at.Add(time.Minute))
	u.kick()
	if files, _ := store.Finished(ctx); len(files) != 3 {
		t.Fatalf("spool while the router is down: %v; want all three kept", files)
	}
	fr.mu.Lock()
	fr.up = true
	fr.mu.Unlock()
	clocktest.Eventually(t, "the spool emptied", 10*time.Second, func() bool {
		files, _ := store.Finished(ctx)
		return len(files) == 0
	})
	_, _, got := fr.state()
	want := map[string]int{}
	for _, rel := range []string{left, fresh} {
		m, _, _ := recordings.ParseBase(rel[strings.LastIndexByte(rel, '/')+1:])
		want["/v1/contacts/"+m.ContactID+"/recordings/"+rel[strings.LastIndexByte(rel, '/')+1:]] = 44 + 160*4
	}
	if len(got) != len(want) {
		t.Errorf("uploaded %v; want %v", got, want)
	}
	for p, n := range want {
		if got[p] != n {
			t.Errorf("uploaded %s: %d bytes; want %d", p, got[p], n)
		}
	}
	fr.mu.Lock()
	for _, a := range fr.auth {
		if a != "Bearer gw-token" {
			t.Errorf("an upload carried %q; want the gateway's token", a)
		}
	}
	fr.mu.Unlock()
}

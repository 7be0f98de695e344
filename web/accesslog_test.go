package web

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/servertest"
)

// heldLog is a stuck log writer: each access-log line ("http") waits in
// Handle until the test takes it from lines.
type heldLog struct {
	lines chan slog.Record
	done  <-chan struct{}
}

func (h heldLog) Enabled(context.Context, slog.Level) bool { return true }

func (h heldLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "http" {
		return nil
	}
	select {
	case h.lines <- r:
	case <-h.done: // the test is over
	}
	return nil
}

func (h heldLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h heldLog) WithGroup(string) slog.Handler      { return h }

// instrumented serves h as route through the access log, whose lines are
// held until the test takes them; errs is the HTTP server's error log.
func instrumented(t *testing.T, route string, h http.HandlerFunc) (ts *httptest.Server, lines <-chan slog.Record, errs *servertest.LogBuffer) {
	t.Helper()
	m, err := newHTTPMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	held := heldLog{lines: make(chan slog.Record), done: done}
	s := &Server{telemetry: telemetry{log: slog.New(held), metrics: m}}
	errs = &servertest.LogBuffer{}
	ts = httptest.NewUnstartedServer(s.instrument(route, h))
	ts.Config.ErrorLog = log.New(errs, "", 0)
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(done) }) // runs first: Close waits for the handlers
	return ts, held.lines, errs
}

// attr is a's value in r, or "" when r has none.
func attr(r slog.Record, a string) string {
	var v string
	r.Attrs(func(at slog.Attr) bool {
		if at.Key == a {
			v = at.Value.String()
			return false
		}
		return true
	})
	return v
}

// takeLine is the next access-log line, or a failure at ctx's end.
func takeLine(ctx context.Context, t *testing.T, lines <-chan slog.Record) slog.Record {
	t.Helper()
	select {
	case r := <-lines:
		return r
	case <-ctx.Done():
		t.Fatal("no access-log line")
		return slog.Record{}
	}
}

// The client has the whole answer while the access-log line is still
// being written: the log's latency is not the request's.
func TestAnswerReachesTheClientBeforeTheAccessLog(t *testing.T) {
	for _, c := range []struct {
		name   string
		h      http.HandlerFunc
		status int
		body   string
	}{
		{"json", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}, http.StatusOK, `{"status":"ok"}` + "\n"},
		{"error", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": apiError{Code: codeNotFound, Message: "no such thing"}})
		}, http.StatusNotFound, `{"error":{"code":"not_found","message":"no such thing"}}` + "\n"},
		{"no content", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, http.StatusNoContent, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts, lines, _ := instrumented(t, "/v1/thing", c.h)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v1/thing", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatalf("the answer while the access log is held: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading the answer while the access log is held: %v", err)
			}
			if resp.StatusCode != c.status || string(body) != c.body {
				t.Errorf("answer %d %q; want %d %q", resp.StatusCode, body, c.status, c.body)
			}
			line := takeLine(ctx, t, lines)
			if got := attr(line, "status"); got != strconv.Itoa(c.status) {
				t.Errorf("access log status %q; want %d", got, c.status)
			}
		})
	}
}

// A connection the handler took over (a WebSocket upgrade) is not the
// server's any more: the access log leaves it alone and logs the 101.
func TestAccessLogLeavesAHijackedConnectionAlone(t *testing.T) {
	ts, lines, errs := instrumented(t, "/v1/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "test")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("answer %s; want 101", resp.Status)
	}
	// The line is logged after the flush would have been, by the same
	// goroutine: any complaint of the server's is in errs by then.
	line := takeLine(ctx, t, lines)
	if got := attr(line, "status"); got != "101" {
		t.Errorf("access log status %q; want 101", got)
	}
	if e := errs.String(); e != "" {
		t.Errorf("the server complained of the hijacked connection:\n%s", e)
	}
}

package servertest_test

import (
	"net/http"
	"testing"

	"tellonce/servertest"
	"tellonce/sql/sqltest"
	"tellonce/web"
)

// TestStartServesOnBothBackends: a started server answers on its socket
// and is ready (its database answers, its schema is current), on each
// backend.
func TestStartServesOnBothBackends(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ts := servertest.Start(t, servertest.Options{DB: b.DB,
			Front: func(p *servertest.Parts) (servertest.Front, error) {
				return web.New(web.DefaultConfig(), web.Deps{DB: p.DB, Directory: p.Directory, Sessions: p.Sessions,
					Hasher: p.Hasher, Switchboard: p.Switchboard, Tokens: p.Tokens})
			},
		})
		res, err := ts.Client().Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET /readyz = %d; want 200", res.StatusCode)
		}
		ts.Close()
		if _, err := ts.Client().Get(ts.URL + "/readyz"); err == nil {
			t.Errorf("GET /readyz after Close succeeded; want the socket closed")
		}
	})
}

// TestServingURL finds the address in serve's announcement, and nothing in
// other lines.
func TestServingURL(t *testing.T) {
	line := "tellonce dev is serving on http://127.0.0.1:41234/ (storage: SQLite ./data/tellonce.db)"
	if u, ok := servertest.ServingURL(line); !ok || u != "http://127.0.0.1:41234/" {
		t.Errorf("ServingURL(%q) = %q, %v; want http://127.0.0.1:41234/", line, u, ok)
	}
	if u, ok := servertest.ServingURL("level=INFO msg=listening addr=127.0.0.1:41234"); ok {
		t.Errorf("ServingURL(a log line) = %q; want nothing", u)
	}
}

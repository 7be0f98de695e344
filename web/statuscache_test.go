package web

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// /status is rendered once per refresh and language and served from
// memory: a change shows only once the refresh interval has passed, the
// answer may be cached publicly until then, and a known ETag gets a 304.
func TestStatusPageIsCachedPerRefresh(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		r := h.do(http.MethodGet, "/status", asAnon, nil)
		r.wantStatus(t, http.StatusOK)
		if !strings.Contains(string(r.body), `data-queue="gov110.general"`) {
			t.Fatal("/status lacks gov110.general")
		}
		etag := r.header.Get("ETag")
		if etag == "" {
			t.Fatal("/status has no ETag")
		}
		if cc := r.header.Get("Cache-Control"); cc != "public, max-age=30" {
			t.Errorf("Cache-Control %q; want public, max-age=30", cc)
		}
		if r.header.Get("Set-Cookie") != "" {
			t.Error("/status sets a cookie, which keeps shared caches from holding it")
		}

		// The queue leaves the public list: the page keeps it until the
		// refresh interval has passed, and its max-age counts down.
		private := false
		if _, err := h.dir.UpdateQueue(h.ctx(), "gov110.general", directory.QueueSettings{Public: &private}); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(statusRefresh - 10*time.Second)
		r = h.do(http.MethodGet, "/status", asAnon, nil)
		if !strings.Contains(string(r.body), `data-queue="gov110.general"`) || r.header.Get("ETag") != etag {
			t.Error("/status changed before its refresh interval passed")
		}
		if cc := r.header.Get("Cache-Control"); cc != "public, max-age=10" {
			t.Errorf("20 s into the refresh, Cache-Control %q; want public, max-age=10", cc)
		}
		r = h.do(http.MethodGet, "/status", asAnon, nil, func(q *http.Request) { q.Header.Set("If-None-Match", etag) })
		if r.wantStatus(t, http.StatusNotModified) && len(r.body) != 0 {
			t.Errorf("304 with a body of %d bytes", len(r.body))
		}
		if r.header.Get("ETag") != etag {
			t.Errorf("304 with ETag %q; want %q", r.header.Get("ETag"), etag)
		}

		h.clock.Advance(10 * time.Second)
		r = h.do(http.MethodGet, "/status", asAnon, nil)
		if strings.Contains(string(r.body), `data-queue="gov110.general"`) {
			t.Error("/status still lists a private queue after the refresh interval")
		}
		if r.header.Get("ETag") == etag {
			t.Error("a changed page kept its ETag")
		}
		r = h.do(http.MethodGet, "/status", asAnon, nil, func(q *http.Request) { q.Header.Set("If-None-Match", etag) })
		r.wantStatus(t, http.StatusOK)
	})
}

// Each language has its own page and ETag; a page chosen by the cookie
// says Vary: Cookie, one chosen by ?lang= does not need to.
func TestStatusPagePerLanguage(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	ko := h.do(http.MethodGet, "/status", asAnon, nil)
	en := h.do(http.MethodGet, "/status?lang=en", asAnon, nil)
	enCookie := h.do(http.MethodGet, "/status", asAnon, nil, func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "tellonce_lang", Value: "en"})
	})
	if !strings.Contains(string(ko.body), `<html lang="ko">`) || !strings.Contains(string(en.body), `<html lang="en">`) {
		t.Fatal("the pages are not in Korean and English")
	}
	if ko.header.Get("ETag") == en.header.Get("ETag") {
		t.Error("Korean and English share an ETag")
	}
	if enCookie.header.Get("ETag") != en.header.Get("ETag") {
		t.Error("the cookie's English page differs from ?lang=en's")
	}
	if ko.header.Get("Vary") != "Cookie" || enCookie.header.Get("Vary") != "Cookie" {
		t.Error("/status without ?lang= lacks Vary: Cookie")
	}
	if v := en.header.Get("Vary"); v != "" {
		t.Errorf("/status?lang=en says Vary: %q", v)
	}
	if n, _ := strconv.Atoi(en.header.Get("Content-Length")); n != len(en.body) {
		t.Errorf("Content-Length %q for %d bytes", en.header.Get("Content-Length"), len(en.body))
	}
	// The English page's own links keep the language.
	if !strings.Contains(string(en.body), `href="/status?lang=en"`) {
		t.Error("the English page's reload link loses the language")
	}
}

func TestETagMatches(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{`"abc"`, true}, {`W/"abc"`, true}, {`"x", "abc"`, true}, {`*`, true},
		{``, false}, {`"abd"`, false}, {`abc`, false},
	} {
		if got := etagMatches(c.header, `"abc"`); got != c.want {
			t.Errorf("etagMatches(%q) = %v; want %v", c.header, got, c.want)
		}
	}
}

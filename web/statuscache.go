package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// statusRefresh is how often /status is rendered, and how often the page
// reloads itself (its meta refresh): on a surge day every citizen opens it,
// so it is rendered once per refresh and language and served from memory.
const statusRefresh = 30 * time.Second

// statusEntry is one rendered /status page.
type statusEntry struct {
	body    []byte
	etag    string
	expires time.Time // the next render is due then
}

// statusCache holds the rendered /status of each language (indexed as
// languages). Readers take the entry without a lock; one request per
// language renders afresh when it has expired while the others wait for
// it. Its zero value is ready.
type statusCache struct {
	mu      sync.Mutex
	entries [2]atomic.Pointer[statusEntry]
}

// cachedStatusPage is GET /status. The page's language comes from ?lang=,
// else the tellonce_lang cookie (and the answer then says Vary: Cookie),
// else Korean. It sets no cookie, so that a CDN or reverse proxy in front
// may keep it: Cache-Control allows public caching until the next render,
// and an If-None-Match with the current ETag is answered 304.
func (s *Server) cachedStatusPage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	lang := r.URL.Query().Get("lang")
	if !slices.Contains(languages, lang) {
		lang = languages[0]
		if c, err := r.Cookie("tellonce_lang"); err == nil && slices.Contains(languages, c.Value) {
			lang = c.Value
		}
		hd.Set("Vary", "Cookie")
	}
	e, err := s.statusEntry(r, lang)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	maxAge := int((e.expires.Sub(s.now()) + time.Second - 1) / time.Second)
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(max(maxAge, 0)))
	hd.Set("ETag", e.etag)
	if etagMatches(r.Header.Get("If-None-Match"), e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(e.body))) // one write, not chunks
	_, _ = w.Write(e.body)
}

// statusEntry is the current page in lang, rendered afresh when the last
// one is statusRefresh old.
func (s *Server) statusEntry(r *http.Request, lang string) (*statusEntry, error) {
	slot := &s.statusPages.entries[slices.Index(languages, lang)]
	if e := slot.Load(); e != nil && s.now().Before(e.expires) {
		return e, nil
	}
	s.statusPages.mu.Lock()
	defer s.statusPages.mu.Unlock()
	now := s.now()
	if e := slot.Load(); e != nil && now.Before(e.expires) {
		return e, nil // another request rendered it meanwhile
	}
	body, err := s.renderStatus(r.Context(), lang)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	e := &statusEntry{body: body, expires: now.Add(statusRefresh),
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	slot.Store(e)
	return e, nil
}

// etagMatches says whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tellonce/directory"
	"tellonce/stats"
)

//go:embed static
var staticFS embed.FS

//go:embed templates
var templateFS embed.FS

// The consoles are static pages with small ES modules, except /chat and
// /status, which the server renders: /status must read without
// JavaScript, and /chat starts from the public directory.
var staticPages = map[string]string{
	"/{$}":        "index.html",
	"/console":    "console.html",
	"/supervisor": "supervisor.html",
	"/admin":      "admin.html",
}

// pages registers the browser-facing pages, their assets and the API the
// consoles add.
func (s *Server) pages(mux *http.ServeMux) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	etags := assetTags(sub)
	files := http.FileServerFS(sub)
	s.handle(mux, "GET /static/", func(w http.ResponseWriter, r *http.Request) {
		// no-cache with an ETag: browsers revalidate and get 304s, and a
		// new binary's assets are never stale.
		w.Header().Set("Cache-Control", "no-cache")
		if tag, ok := etags[strings.TrimPrefix(r.URL.Path, "/static/")]; ok {
			w.Header().Set("ETag", tag)
		}
		http.StripPrefix("/static/", files).ServeHTTP(w, r)
	})
	for pattern, file := range staticPages {
		s.handle(mux, "GET "+pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", etags[file])
			http.ServeFileFS(w, r, sub, file)
		})
	}
	s.handle(mux, "GET /chat", s.chatPage)
	s.handle(mux, "GET /status", s.cachedStatusPage)
	s.consoleAPI(mux)
}

// assetTags makes a strong ETag for every embedded asset from its content.
func assetTags(fsys fs.FS) map[string]string {
	tags := map[string]string{}
	_ = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tags[path] = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		return nil
	})
	return tags
}

// Languages of the consoles; the first is the default.
var languages = []string{"ko", "en"}

// catalogues are the message catalogues the browser modules use too
// (static/i18n/<lang>.json), read once.
var catalogues = sync.OnceValue(func() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range languages {
		b, err := staticFS.ReadFile("static/i18n/" + l + ".json")
		if err != nil {
			panic(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("static/i18n/%s.json: %v", l, err))
		}
		out[l] = m
	}
	return out
})

// langOf picks the page language: ?lang= (remembered in the cookie the
// browser modules also read), else that cookie, else Korean.
func langOf(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); slices.Contains(languages, l) {
		http.SetCookie(w, &http.Cookie{Name: "tellonce_lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie("tellonce_lang"); err == nil && slices.Contains(languages, c.Value) {
		return c.Value
	}
	return languages[0]
}

// pageText is what every rendered page gets: its language and the words.
type pageText struct {
	Lang string
	msgs map[string]string
}

// T returns the message for key, with {name} placeholders filled from
// pairs of arguments: {{.T "wait.minutes" "n" 3}}.
func (p pageText) T(key string, args ...any) string {
	s, ok := p.msgs[key]
	if !ok {
		s = key
	}
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return s
}

func textFor(lang string) pageText { return pageText{Lang: lang, msgs: catalogues()[lang]} }

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		s.writeError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len())) // complete once flushed, as writeJSON's
	_, _ = w.Write(b.Bytes())
}

// publicStatus is GET /v1/status's answer, decoded; ok is false when the
// server keeps no statistics (or they fail), and the status page then
// lists the public queues without their lights.
func (s *Server) publicStatus(ctx context.Context) ([]stats.PublicQueue, bool) {
	if s.stats == nil {
		return nil, false
	}
	body, err := s.stats.PublicStatus(ctx, s.publicQueueSet)
	if err != nil {
		s.log.WarnContext(ctx, "status page without lights", "err", err)
		return nil, false
	}
	var rows []stats.PublicQueue
	if err := json.Unmarshal(body, &rows); err != nil {
		s.log.WarnContext(ctx, "status page without lights", "err", err)
		return nil, false
	}
	return rows, true
}

// statusGroup is one agency on the status page.
type statusGroup struct {
	Agency string
	Rows   []statusLine
}

type statusLine struct {
	Queue, Name, Light, Label, Wait string
}

type statusPage struct {
	pageText
	Groups    []statusGroup
	Available bool
	Refresh   int
}

// renderStatus renders GET /status in one language: every public queue's
// light, in words too, readable with no JavaScript and refreshing itself
// every statusRefresh.
func (s *Server) renderStatus(ctx context.Context, lang string) ([]byte, error) {
	text := textFor(lang)
	rows, ok := s.publicStatus(ctx)
	agencies, err := allAgencies(ctx, s.dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		// No status yet: list the public queues, lights unknown.
		queues, err := allQueues(ctx, s.dir)
		if err != nil {
			return nil, err
		}
		for _, q := range queues {
			if q.Public {
				rows = append(rows, stats.PublicQueue{Queue: q.ID, Agency: q.Agency, Name: q.Name})
			}
		}
	}
	page := statusPage{pageText: text, Available: ok, Refresh: int(statusRefresh / time.Second)}
	for _, a := range agencies {
		g := statusGroup{Agency: a.Name}
		for _, row := range rows {
			if row.Agency != a.ID {
				continue
			}
			line := statusLine{Queue: row.Queue, Name: row.Name, Light: lightClass(row.Light),
				Label: lightLabel(text, row.Light), Wait: waitWords(text, ok, row.EstimatedWaitS)}
			if row.Light == stats.LightClosed {
				// The words carry the next opening; there is no wait.
				line.Label, line.Wait = row.Label, ""
				if text.Lang == "en" {
					line.Label = row.LabelEn
				}
			}
			g.Rows = append(g.Rows, line)
		}
		if len(g.Rows) > 0 {
			page.Groups = append(page.Groups, g)
		}
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "status.html", page); err != nil {
		return nil, fmt.Errorf("render status.html: %w", err)
	}
	return b.Bytes(), nil
}

func lightClass(light string) string {
	switch light {
	case "green", "yellow", "red", stats.LightClosed:
		return light
	}
	return "none"
}

// lightLabel is the light's word in the page's language (the API's label
// is Korean).
func lightLabel(text pageText, light string) string {
	return text.T("light." + lightClass(light))
}

// waitWords says an estimated wait; known says whether there are
// statistics at all (with them, no estimate means nobody is on duty).
func waitWords(text pageText, known bool, secs *int) string {
	switch {
	case !known:
		return text.T("wait.unknown")
	case secs == nil:
		return text.T("wait.no_staff")
	case *secs < 60:
		return text.T("wait.under_minute")
	case *secs >= 3600:
		return text.T("wait.over_hour")
	}
	return text.T("wait.minutes", "n", (*secs+30)/60)
}

// chatChoice is one queue a citizen may start a chat in.
type chatChoice struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Agency string `json:"agency"`
	// Closed is the line outside its hours, in words with its next
	// opening, in the page's language; empty while it is open.
	Closed string `json:"closed,omitempty"`
}

type chatAgency struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	Queues []chatChoice `json:"queues"`
}

type chatPage struct {
	pageText
	Agencies  []chatAgency
	Directory any // for the page's module, as JSON
	Central   string
}

// chatPage is GET /chat: the citizen's chat, starting from the public
// queues that take chats.
func (s *Server) chatPage(w http.ResponseWriter, r *http.Request) {
	text := textFor(langOf(w, r))
	agencies, err := allAgencies(r.Context(), s.dir)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	queues, err := allQueues(r.Context(), s.dir)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := chatPage{pageText: text}
	for _, a := range agencies {
		ca := chatAgency{ID: a.ID, Name: a.Name, Queues: []chatChoice{}}
		for _, q := range queues {
			if q.Agency == a.ID && q.Public && slices.Contains(q.Channels, directory.ChannelChat) {
				ca.Queues = append(ca.Queues, chatChoice{ID: q.ID, Name: q.Name, Agency: a.ID, Closed: s.closedWords(text.Lang, q.ID)})
			}
		}
		if len(ca.Queues) > 0 {
			page.Agencies = append(page.Agencies, ca)
		}
	}
	if len(page.Agencies) > 0 {
		page.Central = page.Agencies[0].Queues[0].ID
	}
	if hasChoice(page.Agencies, s.cfg.CentralQueue) {
		page.Central = s.cfg.CentralQueue
	}
	// html/template writes a Go value in a script element as JSON.
	page.Directory = map[string]any{"agencies": page.Agencies, "central": page.Central}
	s.render(w, r, "chat.html", page)
}

// closedWords is a queue outside its hours in words (lang ko or en), as
// the router sees it now; "" while it is open or unknown.
func (s *Server) closedWords(lang, queue string) string {
	q, err := s.board.Queue(queue)
	if err != nil || q.Hours == nil {
		return ""
	}
	now := s.now()
	if q.Hours.Open(now) {
		return ""
	}
	next, _ := q.Hours.NextOpen(now)
	return stats.ClosedLabel(lang, now, next, q.Hours.Location())
}

func hasChoice(agencies []chatAgency, id string) bool {
	for _, a := range agencies {
		for _, q := range a.Queues {
			if q.ID == id {
				return true
			}
		}
	}
	return false
}

package web

import (
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// The catalogues hold the same keys in every language, and every key the
// pages name literally is in them.
func TestMessageCatalogues(t *testing.T) {
	cats := catalogues()
	ko := cats["ko"]
	for _, lang := range languages {
		for k := range ko {
			if _, ok := cats[lang][k]; !ok {
				t.Errorf("%s.json lacks %q", lang, k)
			}
		}
		for k, v := range cats[lang] {
			if _, ok := ko[k]; !ok {
				t.Errorf("%s.json has %q, which ko.json lacks", lang, k)
			}
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s.json: %q is empty", lang, k)
			}
		}
	}
	uses := regexp.MustCompile(`\bt\("([a-z_.0-9-]+)"|data-i18n(?:-label|-placeholder|-title)?="([a-z_.0-9-]+)"|\.T "([a-z_.0-9-]+)"|data-title="([a-z_.0-9-]+)"`)
	for _, root := range []fs.FS{staticFS, templateFS} {
		err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".html")) {
				return err
			}
			b, err := fs.ReadFile(root, path)
			if err != nil {
				return err
			}
			for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
				key := m[1] + m[2] + m[3] + m[4]
				if strings.HasSuffix(key, ".") || strings.HasSuffix(key, "_") {
					continue // a prefix completed at run time
				}
				if _, ok := ko[key]; !ok {
					t.Errorf("%s uses %q, which is in no catalogue", path, key)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// No page or module reaches beyond the server: no http(s) URL, font or
// CDN in the embedded assets (the CSP enforces it in browsers too).
func TestAssetsStayOnTheServer(t *testing.T) {
	external := regexp.MustCompile(`(?:src|href)=["']https?://|url\(["']?https?://|import[^;]*["']https?://|fetch\(["']https?://`)
	for _, root := range []fs.FS{staticFS, templateFS} {
		_ = fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := fs.ReadFile(root, path)
			if loc := external.FindIndex(b); loc != nil {
				t.Errorf("%s reaches off the server: %q", path, b[loc[0]:min(loc[1]+40, len(b))])
			}
			return nil
		})
	}
}

func TestPages(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		for _, c := range []struct {
			path, lang, want string
		}{
			{"/", "", `id="login-form"`},
			{"/console", "", `src="/static/console.js"`},
			{"/supervisor", "", `src="/static/supervisor.js"`},
			{"/admin", "", `src="/static/admin.js"`},
			{"/chat", "", "무엇을 도와드릴까요?"},
			{"/chat?lang=en", "", "How can we help?"},
			{"/status", "", "공공 상담 창구 혼잡도"},
			{"/status?lang=en", "", "How busy are the public lines?"},
			{"/status", "en", "How busy are the public lines?"},
		} {
			var opts []reqOpt
			if c.lang != "" {
				opts = append(opts, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "tellonce_lang", Value: c.lang}) })
			}
			r := h.do(http.MethodGet, c.path, asAnon, nil, opts...)
			if !r.wantStatus(t, http.StatusOK) {
				continue
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: Content-Type %q; want HTML", r, ct)
			}
			if !strings.Contains(string(r.body), c.want) {
				t.Errorf("%s (lang cookie %q) lacks %q", r, c.lang, c.want)
			}
		}
	})
}

// /status lists every public queue with a light and words, without
// JavaScript; with no statistics the lights say so.
func TestStatusPageListsPublicQueues(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		private := false
		name := "Hidden line"
		if _, err := h.dir.UpdateQueue(h.ctx(), "nts126.tax", directory.QueueSettings{Name: &name, Public: &private}); err != nil {
			t.Fatal(err)
		}
		r := h.do(http.MethodGet, "/status", asAnon, nil)
		r.wantStatus(t, http.StatusOK)
		body := string(r.body)
		for _, want := range []string{`data-queue="gov110.general"`, `<meta http-equiv="refresh"`, "class=\"light light-"} {
			if !strings.Contains(body, want) {
				t.Errorf("/status lacks %q", want)
			}
		}
		if strings.Contains(body, "nts126.tax") || strings.Contains(body, "Hidden line") {
			t.Error("/status shows a queue that is not public")
		}
		if strings.Contains(body, "<script") {
			t.Error("/status carries a script; it must read without JavaScript")
		}
	})
}

// /chat offers the public queues that take chats, grouped by agency, and
// hands the page module the same list as JSON.
func TestChatPageOffersChatQueues(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		r := h.do(http.MethodGet, "/chat", asAnon, nil)
		r.wantStatus(t, http.StatusOK)
		body := string(r.body)
		for _, want := range []string{`<option value="gov110.general">`, `<option value="nts126">`, `"central":"gov110.general"`} {
			if !strings.Contains(body, want) {
				t.Errorf("/chat lacks %q", want)
			}
		}
	})
}

// Assets carry a content ETag and answer 304 to a revalidation.
func TestStaticAssetsRevalidate(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		r := h.do(http.MethodGet, "/static/console.js", asAnon, nil)
		r.wantStatus(t, http.StatusOK)
		tag := r.header.Get("ETag")
		if tag == "" || !slices.Contains([]string{"no-cache"}, r.header.Get("Cache-Control")) {
			t.Fatalf("console.js: ETag %q, Cache-Control %q; want a tag and no-cache", tag, r.header.Get("Cache-Control"))
		}
		again := h.do(http.MethodGet, "/static/console.js", asAnon, nil, withHeader("If-None-Match", tag))
		again.wantStatus(t, http.StatusNotModified)
	})
}

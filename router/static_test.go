package router

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pier/app"
)

// writeSite writes files (slash-separated names) into a new directory.
func writeSite(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// staticRouter routes app "site" to the files given.
func staticRouter(t *testing.T, files map[string]string) (*Router, string) {
	t.Helper()
	dir := writeSite(t, files)
	r := newRouter(t)
	if err := r.SetStatic("site", dir); err != nil {
		t.Fatal(err)
	}
	return r, dir
}

// do sends one request to r for site.localhost and returns the response
// with its body read.
func do(t testing.TB, r *Router, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, "http://site.localhost"+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	resp := w.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var (
	css = strings.Repeat("body { margin: 0; padding: 0; color: #333; }\n", 100) // 4.5 KB
	js  = strings.Repeat("console.log('hello from a static site');\n", 100)
)

func TestStaticContentTypes(t *testing.T) {
	r, _ := staticRouter(t, map[string]string{
		"index.html": "<!doctype html><h1>home</h1>", "app.css": css, "app.js": js, "mod.mjs": "export {}",
		"data.json": `{"a":1}`, "logo.svg": "<svg/>", "img/pic.png": "\x89PNG\r\n\x1a\n", "font.woff2": "wOF2",
		"notes.txt": "plain", "UPPER.HTML": "<p>x</p>", "app.wasm": "\x00asm", "blob": "\x00\x01\x02 binary",
	})
	tests := []struct{ path, want string }{
		{"/", "text/html; charset=utf-8"},
		{"/index.html", "text/html; charset=utf-8"},
		{"/app.css", "text/css; charset=utf-8"},
		{"/app.js", "text/javascript; charset=utf-8"},
		{"/mod.mjs", "text/javascript; charset=utf-8"},
		{"/data.json", "application/json"},
		{"/logo.svg", "image/svg+xml"},
		{"/img/pic.png", "image/png"},
		{"/font.woff2", "font/woff2"},
		{"/notes.txt", "text/plain; charset=utf-8"},
		{"/UPPER.HTML", "text/html; charset=utf-8"},
		{"/app.wasm", "application/wasm"},
		{"/blob", "application/octet-stream"}, // sniffed
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, _ := do(t, r, "GET", tt.path, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

func TestStaticConditionalRequests(t *testing.T) {
	r, dir := staticRouter(t, map[string]string{"index.html": "home", "app.js": js})
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(dir, "app.js"), mtime, mtime)

	resp, body := do(t, r, "GET", "/app.js", nil)
	tag := resp.Header.Get("Etag")
	if resp.StatusCode != 200 || body != js || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
		t.Fatalf("first GET: %d, ETag %q, body of %d bytes", resp.StatusCode, tag, len(body))
	}
	if got := resp.Header.Get("Last-Modified"); got != "Wed, 01 May 2024 12:00:00 GMT" {
		t.Errorf("Last-Modified %q", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=0, must-revalidate" {
		t.Errorf("Cache-Control %q", got)
	}
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"same ETag", http.Header{"If-None-Match": {tag}}, 304},
		{"ETag among others", http.Header{"If-None-Match": {`"other", ` + tag}}, 304},
		{"other ETag", http.Header{"If-None-Match": {`"other"`}}, 200},
		{"not modified since", http.Header{"If-Modified-Since": {"Wed, 01 May 2024 12:00:00 GMT"}}, 304},
		{"modified since", http.Header{"If-Modified-Since": {"Tue, 30 Apr 2024 12:00:00 GMT"}}, 200},
		{"gzip form's ETag for identity", http.Header{"If-None-Match": {strings.TrimSuffix(tag, `"`) + `-gzip"`}}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, r, "GET", "/app.js", tt.header)
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 304 && (body != "" || resp.Header.Get("Etag") != tag) {
				t.Errorf("304 with body %q and ETag %q", body, resp.Header.Get("Etag"))
			}
		})
	}

	// A file that changed (a redeploy) has another ETag.
	os.WriteFile(filepath.Join(dir, "app.js"), []byte(js+"//"), 0o644)
	if resp, _ := do(t, r, "GET", "/app.js", http.Header{"If-None-Match": {tag}}); resp.StatusCode != 200 {
		t.Errorf("changed file with the old ETag: got %d, want 200", resp.StatusCode)
	}
}

func gunzip(t testing.TB, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("bad gzip: %v", err)
	}
	return string(b)
}

func TestStaticGzip(t *testing.T) {
	huge := strings.Repeat(js, gzipCacheMaxFile/len(js)+10)
	r, _ := staticRouter(t, map[string]string{
		"app.css": css, "small.css": "a{}", "pic.png": strings.Repeat("\x00", 4096), "huge.txt": huge,
		"pre.js": js, "pre.js.gz": "", // replaced below by a real gzip of another text
	})
	var pre bytes.Buffer
	zw := gzip.NewWriter(&pre)
	zw.Write([]byte("precompressed " + js))
	zw.Close()
	os.WriteFile(filepath.Join(r.lookup("site.localhost").site.dir, "pre.js.gz"), pre.Bytes(), 0o644)

	tests := []struct {
		name, path, accept, rng string
		wantGzip                bool
		want                    string
	}{
		{"gzip accepted", "/app.css", "gzip, deflate, br", "", true, css},
		{"no Accept-Encoding", "/app.css", "", "", false, css},
		{"only br", "/app.css", "br", "", false, css},
		{"gzip refused", "/app.css", "gzip;q=0, br", "", false, css},
		{"gzip refused, any other", "/app.css", "*, gzip;q=0", "", false, css},
		{"any coding", "/app.css", "*", "", true, css},
		{"uppercase with q", "/app.css", "GZIP;q=0.5", "", true, css},
		{"too small", "/small.css", "gzip", "", false, "a{}"},
		{"not compressible", "/pic.png", "gzip", "", false, strings.Repeat("\x00", 4096)},
		{"range of the file", "/app.css", "gzip", "bytes=0-3", false, css[:4]},
		{"precompressed sibling", "/pre.js", "gzip", "", true, "precompressed " + js},
		{"larger than the cache keeps, compressed as sent", "/huge.txt", "gzip", "", true, huge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.accept != "" {
				h.Set("Accept-Encoding", tt.accept)
			}
			if tt.rng != "" {
				h.Set("Range", tt.rng)
			}
			resp, body := do(t, r, "GET", tt.path, h)
			if resp.StatusCode != 200 && resp.StatusCode != 206 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			gz := resp.Header.Get("Content-Encoding") == "gzip"
			if gz != tt.wantGzip {
				t.Fatalf("gzip: got %v, want %v", gz, tt.wantGzip)
			}
			if gz {
				if len(body) >= len(tt.want) {
					t.Errorf("compressed body %d bytes, the file %d", len(body), len(tt.want))
				}
				body = gunzip(t, body)
			}
			if body != tt.want {
				t.Errorf("body of %d bytes, want %d", len(body), len(tt.want))
			}
			if compressible(resp.Header.Get("Content-Type")) && len(tt.want) >= gzipMinSize &&
				resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary %q, want Accept-Encoding", resp.Header.Get("Vary"))
			}
		})
	}

	t.Run("the compressed form has its own ETag, and 304s", func(t *testing.T) {
		accept := http.Header{"Accept-Encoding": {"gzip"}}
		plain, _ := do(t, r, "GET", "/app.css", nil)
		zipped, _ := do(t, r, "GET", "/app.css", accept)
		tag := zipped.Header.Get("Etag")
		if tag == plain.Header.Get("Etag") || zipped.Header.Get("Content-Length") != "" {
			t.Fatalf("gzip ETag %q, identity %q; gzip Content-Length %q", tag, plain.Header.Get("Etag"), zipped.Header.Get("Content-Length"))
		}
		resp, body := do(t, r, "GET", "/app.css", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {tag}})
		if resp.StatusCode != 304 || body != "" || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("conditional gzip GET: %d, %d bytes, Content-Encoding %q", resp.StatusCode, len(body), resp.Header.Get("Content-Encoding"))
		}
		resp, body = do(t, r, "HEAD", "/app.css", accept)
		if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("HEAD with gzip: %d, %d bytes, Content-Encoding %q", resp.StatusCode, len(body), resp.Header.Get("Content-Encoding"))
		}
	})
}

// A file's gzip form is made once, not for a 304, and goes with its site.
func TestStaticGzipCache(t *testing.T) {
	r, dir := staticRouter(t, map[string]string{"a.css": css, "b.css": css + "b"})
	accept := http.Header{"Accept-Encoding": {"gzip"}}
	entries := func() int {
		r.gzipCache.mu.Lock()
		defer r.gzipCache.mu.Unlock()
		return len(r.gzipCache.items)
	}
	first, _ := do(t, r, "GET", "/a.css", accept)
	if n := entries(); n != 1 {
		t.Fatalf("after one compressed GET the cache has %d entries, want 1", n)
	}
	key := gzipKey(dir, "a.css", first.Header.Get("Etag"))
	cached, _ := r.gzipCache.get(key)
	cached[len(cached)-1] ^= 0xff // a changed cache entry shows it is what is served
	_, body := do(t, r, "GET", "/a.css", accept)
	if body != string(cached) {
		t.Fatal("the second GET did not come from the cache")
	}
	btag := etag(mustStat(t, dir, "b.css"), "gzip")
	if resp, _ := do(t, r, "GET", "/b.css", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {btag}}); resp.StatusCode != 304 {
		t.Fatalf("conditional GET with %s: %d", btag, resp.StatusCode)
	}
	if n := entries(); n != 1 {
		t.Errorf("a 304 compressed the file: %d entries", n)
	}
	r.Delete("site")
	if n := entries(); n != 0 {
		t.Errorf("a deleted site's files stay cached: %d entries", n)
	}
}

func mustStat(t *testing.T, dir, name string) os.FileInfo {
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestGzipCacheBound(t *testing.T) {
	c := newGzipCache(100)
	c.put("s\x00a", make([]byte, 40))
	c.put("s\x00b", make([]byte, 40))
	c.get("s\x00a") // b is now the least recently used
	c.put("t\x00c", make([]byte, 40))
	if _, ok := c.get("s\x00b"); ok {
		t.Error("least recently used entry kept over the bound")
	}
	if _, ok := c.get("s\x00a"); !ok {
		t.Error("recently used entry dropped")
	}
	c.put("t\x00huge", make([]byte, 101))
	if _, ok := c.get("t\x00huge"); ok || c.size > 100 {
		t.Errorf("entry larger than the bound kept (size %d)", c.size)
	}
	c.forget("s")
	if _, ok := c.get("s\x00a"); ok || c.size != 40 {
		t.Errorf("forget left the site's entries (size %d)", c.size)
	}
}

func TestStaticIndexAndNotFound(t *testing.T) {
	r, dir := staticRouter(t, map[string]string{
		"index.html": "home", "docs/index.html": "docs home", "empty/file.txt": "x",
		"about.html": "about", "404.html": "<h1>custom not found</h1>",
	})
	tests := []struct {
		name, path string
		want       int
		body, loc  string
	}{
		{"top", "/", 200, "home", ""},
		{"index.html by name", "/index.html", 200, "home", ""},
		{"directory", "/docs/", 200, "docs home", ""},
		{"directory without its slash", "/docs", 301, "", "docs/"},
		{"directory without its slash, with a query", "/docs?x=1", 301, "", "docs/?x=1"},
		{"directory without index.html: no listing", "/empty/", 404, "<h1>custom not found</h1>", ""},
		{"clean URL", "/about", 200, "about", ""},
		{"missing", "/nope", 404, "<h1>custom not found</h1>", ""},
		{"missing in a directory", "/docs/nope.css", 404, "<h1>custom not found</h1>", ""},
		{"doubled slashes", "//docs//index.html", 200, "docs home", ""},
		{"a file with a trailing slash", "/about.html/", 404, "<h1>custom not found</h1>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, r, "GET", tt.path, nil)
			if resp.StatusCode != tt.want || tt.body != "" && body != tt.body || resp.Header.Get("Location") != tt.loc {
				t.Fatalf("got %d %q (Location %q), want %d %q (Location %q)",
					resp.StatusCode, body, resp.Header.Get("Location"), tt.want, tt.body, tt.loc)
			}
		})
	}
	t.Run("pier's page without a 404.html", func(t *testing.T) {
		os.Remove(filepath.Join(dir, "404.html"))
		resp, body := do(t, r, "GET", "/nope", nil)
		if resp.StatusCode != 404 || !strings.Contains(body, "Not found") || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
}

func TestStaticMethods(t *testing.T) {
	r, _ := staticRouter(t, map[string]string{"index.html": "home"})
	resp, body := do(t, r, "HEAD", "/", nil)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "4" || resp.Header.Get("Etag") == "" {
		t.Errorf("HEAD: %d %q, Content-Length %q, ETag %q", resp.StatusCode, body, resp.Header.Get("Content-Length"), resp.Header.Get("Etag"))
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		resp, _ := do(t, r, m, "/", nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

// Pushed content is untrusted: nothing outside the site's directory is
// ever served, whatever the path or the links in the site say.
func TestStaticRefusesEscapes(t *testing.T) {
	outside := writeSite(t, map[string]string{"secret.txt": "SECRET", "sub/secret.txt": "SECRET"})
	parent := t.TempDir()
	dir := filepath.Join(parent, "site")
	os.WriteFile(filepath.Join(parent, "secret.txt"), []byte("SECRET"), 0o644)
	for name, body := range map[string]string{
		"index.html": "home", "inside.txt": "inside", ".env": "SECRET=1", ".git/config": "SECRET",
		".well-known/security.txt": "contact", "sub/page.html": "page",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	for name, target := range map[string]string{
		"abs.txt":      filepath.Join(outside, "secret.txt"),
		"rel.txt":      "../secret.txt",
		"deep.txt":     "sub/../../secret.txt",
		"outdir":       outside,
		"root":         "/",
		"passwd":       "/etc/passwd",
		"ok.txt":       "inside.txt",
		"sub/back.txt": "../inside.txt",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRouter(t)
	if err := r.SetStatic("site", dir); err != nil {
		t.Fatal(err)
	}
	refused := []string{
		"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/..%2fsecret.txt", "/..%5csecret.txt",
		"/abs.txt", "/rel.txt", "/deep.txt", "/outdir/secret.txt", "/outdir/sub/secret.txt", "/root/etc/passwd",
		"/passwd", "/.env", "/.git/config", "/sub/.%2e/.env", "/fifo", "/%00", "/index.html%00.txt",
	}
	for _, p := range refused {
		t.Run("refused "+p, func(t *testing.T) {
			done := make(chan struct{})
			var resp *http.Response
			var body string
			go func() {
				defer close(done)
				req := httptest.NewRequest("GET", "http://site.localhost/", nil)
				req.URL.Path, req.URL.RawPath = "", ""
				req.URL, _ = req.URL.Parse(p)
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				resp = w.Result()
				b, _ := io.ReadAll(resp.Body)
				body = string(b)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the request hangs")
			}
			if resp.StatusCode != 404 || strings.Contains(body, "SECRET") || strings.Contains(body, "root:") {
				t.Fatalf("got %d %q, want 404", resp.StatusCode, body)
			}
		})
	}
	for p, want := range map[string]string{
		"/ok.txt": "inside", "/sub/back.txt": "inside", "/.well-known/security.txt": "contact",
		"/sub/../index.html": "home", "/sub/page": "page",
	} {
		t.Run("served "+p, func(t *testing.T) {
			if resp, body := do(t, r, "GET", p, nil); resp.StatusCode != 200 || body != want {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
			}
		})
	}
}

// A static route replaces backends and the other way round, in one step;
// access rules, activity and the drain of a replaced site work as for
// proxied apps, and a replaced site's directory is closed once its last
// request ended.
func TestStaticRoute(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	v1 := writeSite(t, map[string]string{"index.html": "site v1"})
	v2 := writeSite(t, map[string]string{"index.html": "site v2"})

	if err := r.SetStatic("hello", filepath.Join(v1, "missing")); err == nil {
		t.Fatal("SetStatic of a missing directory: no error")
	}
	if code, _ := get(t, front, "hello.localhost", "/", nil); code != 404 {
		t.Fatalf("after a failed SetStatic the app is routed: %d", code)
	}
	if err := r.SetStatic("hello", v1); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, front, "hello.localhost", "/", nil); code != 200 || body != "site v1" {
		t.Fatalf("static v1: %d %q", code, body)
	}
	s1 := r.lookup("hello.localhost").site
	if err := r.SetStatic("hello", v1); err != nil || r.lookup("hello.localhost").site != s1 {
		t.Fatalf("setting the same directory again replaced the site (%v)", err)
	}

	r.Set("hello", []string{namedBackend(t, "backend")})
	if code, body := get(t, front, "hello.localhost", "/", nil); code != 200 || body != "backend" {
		t.Fatalf("after Set: %d %q", code, body)
	}
	if n := s1.refs.Load(); n != 0 {
		t.Errorf("replaced site still has %d references", n)
	}
	if _, err := s1.root.Stat("index.html"); err == nil {
		t.Error("replaced site's directory is still open")
	}
	if err := r.SetStatic("hello", v2); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, front, "hello.localhost", "/", nil); code != 200 || body != "site v2" {
		t.Fatalf("static v2: %d %q", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.Drain(ctx, v1); err != nil {
		t.Errorf("drain of the old site: %v", err)
	}
	r.SetAsleep("hello", true) // a static site does not sleep
	if code, body := get(t, front, "hello.localhost", "/", nil); code != 200 || body != "site v2" {
		t.Fatalf("static site after SetAsleep: %d %q", code, body)
	}
	if _, last := r.Activity("hello"); time.Since(last) > time.Second {
		t.Errorf("static requests do not count as activity (last %v)", last)
	}

	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret")}})
	if code, _ := get(t, front, "hello.localhost", "/", nil); code != 401 {
		t.Fatalf("static site with basic auth, no credentials: %d", code)
	}
	h := http.Header{}
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("alice", "secret")
	h.Set("Authorization", req.Header.Get("Authorization"))
	if code, body := get(t, front, "hello.localhost", "/", h); code != 200 || body != "site v2" {
		t.Fatalf("static site with basic auth, credentials: %d %q", code, body)
	}

	s2 := r.lookup("hello.localhost").site
	r.Delete("hello")
	if n := s2.refs.Load(); n != 0 {
		t.Errorf("deleted app's site still has %d references", n)
	}
	if code, _ := get(t, front, "hello.localhost", "/", nil); code != 404 {
		t.Fatalf("deleted: %d", code)
	}
}

// A request that started on a site keeps reading it after the route moved
// on; the site's directory is closed only when that request ends, and
// Drain waits for it.
func TestStaticReplacedWhileServing(t *testing.T) {
	big := strings.Repeat("x", 8<<20)
	r := newRouter(t)
	front := serve(t, r)
	v1 := writeSite(t, map[string]string{"big.txt": big})
	v2 := writeSite(t, map[string]string{"big.txt": "small"})
	if err := r.SetStatic("hello", v1); err != nil {
		t.Fatal(err)
	}
	s1 := r.lookup("hello.localhost").site
	req, _ := http.NewRequest("GET", "http://"+front+"/big.txt", nil)
	req.Host = "hello.localhost"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if err := r.SetStatic("hello", v2); err != nil {
		t.Fatal(err)
	}
	if s1.refs.Load() == 0 && s1.inflight.Load() > 0 {
		t.Fatal("site closed while a request reads it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = r.Drain(ctx, v1)
	cancel()
	if err == nil && s1.inflight.Load() > 0 {
		t.Fatal("Drain returned with a request in flight")
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(head)+len(rest) != len(big) {
		t.Fatalf("the request in flight got %d bytes (%v), want %d", len(head)+len(rest), err, len(big))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Drain(ctx, v1); err != nil {
		t.Fatalf("drain after the request ended: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s1.refs.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s1.refs.Load(); n != 0 {
		t.Fatalf("old site has %d references after its last request", n)
	}
	if code, body := get(t, front, "hello.localhost", "/big.txt", nil); code != 200 || body != "small" {
		t.Fatalf("new site: %d %q", code, body)
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"identity", false},
		{"*", true},
		{"*;q=0", false},
		{"x-gzip", true},
		{"gzipx", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.header), func(t *testing.T) {
			if got := acceptsGzip(tt.header); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// The cost of a static file through the whole router (lookup, access
// rules, activity, metrics, access log off): a small HTML file, a 304, and
// a 4.5 KB stylesheet compressed on the fly.
func BenchmarkStatic(b *testing.B) {
	dir := writeSite(b, map[string]string{"index.html": strings.Repeat("<p>hello</p>\n", 40), "app.css": css})
	r := New(Config{Log: discardLog()})
	if err := r.SetStatic("site", dir); err != nil {
		b.Fatal(err)
	}
	resp, _ := do(b, r, "GET", "/", nil)
	tag := resp.Header.Get("Etag")
	for _, bc := range []struct {
		name, path string
		header     http.Header
		want       int
	}{
		{"file", "/", nil, 200},
		{"not modified", "/", http.Header{"If-None-Match": {tag}}, 304},
		{"gzip", "/app.css", http.Header{"Accept-Encoding": {"gzip"}}, 200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://site.localhost"+bc.path, nil)
			req.Header = bc.header
			if req.Header == nil {
				req.Header = http.Header{}
			}
			for b.Loop() {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != bc.want {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// What gzip levels cost and save on a stylesheet and a larger script.
func BenchmarkGzip(b *testing.B) {
	var big strings.Builder
	for i := 0; big.Len() < 300<<10; i++ {
		fmt.Fprintf(&big, "function f%d(a, b) { return a * %d + b.length - %q; }\n", i, i, fmt.Sprint(i*7919))
	}
	for _, in := range []struct{ name, s string }{{"css-4.5KB", css}, {"js-300KB", big.String()}} {
		for _, level := range []int{1, 5, 6, 9} {
			b.Run(fmt.Sprintf("%s/level-%d", in.name, level), func(b *testing.B) {
				var out bytes.Buffer
				zw, _ := gzip.NewWriterLevel(&out, level)
				b.SetBytes(int64(len(in.s)))
				for b.Loop() {
					out.Reset()
					zw.Reset(&out)
					zw.Write([]byte(in.s))
					zw.Close()
				}
				b.ReportMetric(float64(out.Len())/float64(len(in.s)), "ratio")
			})
		}
	}
}

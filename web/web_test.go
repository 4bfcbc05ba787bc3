package web_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/app"
	"pier/cron"
	"pier/node"
	"pier/router"
	"pier/store"
	"pier/web"
)

// noContainers is a Runtime with nothing running: the handlers' tests need
// no containers (the browser test in the repository's root drives a real
// daemon). Other methods are not called.
type noContainers struct{ node.Runtime }

func (noContainers) AppInstances(context.Context, string) ([]app.Instance, error) { return nil, nil }

// lines is a LogSource that writes one line and then, when following,
// blocks until the reader goes away, which it reports on gone.
type lines struct{ gone chan struct{} }

func (l lines) Logs(ctx context.Context, name string, q app.LogQuery, w io.Writer) error {
	fmt.Fprintf(w, "2026-01-02T03:04:05Z web.1 hello from %s\n", name)
	if q.Follow {
		<-ctx.Done()
		close(l.gone)
	}
	return ctx.Err()
}

const password = "correct horse battery"

// dashboard serves a Dashboard over a real Service and store with a
// deployed app "hello" (release v1 and v2, a cron entry, a config var),
// placed on the machines node1 and node2 of a cluster, and a static site.
// opts change the dashboard's Config before it is made.
// pier is the use-cases the dashboard calls, side by side as main.go
// puts them, with the login links it hands out.
type pier struct {
	*app.Service
	*app.Routing
	*app.Auth
	*cron.Cron
	*web.LoginTokens
}

func dashboard(t *testing.T, opts ...func(*web.Config)) (*httptest.Server, pier, lines) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.Apply(ctx, app.CreateApp{App: app.App{Name: "hello", CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 2; v++ {
		rel := app.Release{App: "hello", Version: v, Image: "img", Processes: map[string]string{"web": "node server.js"},
			Config: map[string]string{"SECRET_KEY": "very-secret-value-1234"}, Description: fmt.Sprintf("deploy %d", v),
			Cron: []app.CronEntry{{ID: "cron1", Schedule: "@daily", Command: "python3 report.py"}}, CreatedBy: "laptop", CreatedAt: time.Now()}
		if err := st.Apply(ctx, app.PutRelease{Release: rel}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Apply(ctx, app.SetPlacement{App: "hello", Nodes: []string{"node1", "node2"}}); err != nil {
		t.Fatal(err)
	}
	site := app.Release{App: "site", Version: 1, Image: "site-img", Static: "/app/public", Processes: map[string]string{},
		Description: "deploy 1", CreatedBy: "laptop", CreatedAt: time.Now()}
	if err := errors.Join(st.Apply(ctx, app.CreateApp{App: app.App{Name: "site", CreatedAt: time.Now()}}),
		st.Apply(ctx, app.PutRelease{Release: site})); err != nil {
		t.Fatal(err)
	}
	src := lines{gone: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	act := node.New(node.Settings{}, node.Deps{Store: st, Runtime: noContainers{}, Routes: router.New(router.Config{Log: log}), Log: log})
	deps := app.Deps{Store: st, Audit: st, Node: crashedOnce{act}, Logs: src, Log: log}
	svc := pier{Service: app.New(app.Settings{}, deps), Routing: app.NewRouting(app.Settings{}, deps), Auth: app.NewAuth(deps),
		Cron: cron.New(cron.Deps{Store: st, Runs: st, OneOffs: act, Lock: act.Lock, Log: log}), LoginTokens: &web.LoginTokens{}}
	if err := svc.SetAdminPassword(ctx, password); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(svc.SetHTTPAuth(ctx, "hello", true), svc.AddHTTPUser(ctx, "hello", "alice", "s3cret"),
		svc.AddAllowedIP(ctx, "hello", "10.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	cfg := web.Config{Platform: svc, Log: log, Version: "test", Tokens: svc.LoginTokens,
		URL: func(a string) string { return "http://" + a + ".example.test" }}
	for _, o := range opts {
		o(&cfg)
	}
	d := web.New(cfg)
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv, svc, src
}

// crashedOnce is the machine's actuator, but hello's web process
// crashed once a minute ago and was restarted (not a crash loop).
type crashedOnce struct{ *node.Actuator }

func (c crashedOnce) Crash(name, proc string) (app.Crash, bool) {
	if name == "hello" && proc == "web" {
		last := time.Now().Add(-time.Minute)
		return app.Crash{Count: 1, Last: last, Next: last, LastOutput: []string{"Error: boom"}}, true
	}
	return c.Actuator.Crash(name, proc)
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: srv, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Get(b.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.srv.URL+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the form on path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body, _ := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s:\n%s", path, body)
	}
	return m[1]
}

func (b *browser) login() {
	b.t.Helper()
	code, body, h := b.post("/login", url.Values{"_csrf": {b.csrf("/login")}, "password": {password}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		b.t.Fatalf("login: %d %s\n%s", code, h.Get("Location"), body)
	}
}

func TestLogin(t *testing.T) {
	srv, svc, _ := dashboard(t)

	t.Run("pages need a login", func(t *testing.T) {
		b := newBrowser(t, srv)
		for _, p := range []string{"/", "/apps/hello", "/keys", "/events", "/nodes"} {
			if code, _, h := b.get(p); code != http.StatusSeeOther || h.Get("Location") != "/login" {
				t.Errorf("GET %s: %d to %q, want 303 to /login", p, code, h.Get("Location"))
			}
		}
		if code, _, _ := b.post("/apps/hello/restart", url.Values{}); code != http.StatusUnauthorized {
			t.Errorf("POST without a session: %d, want 401", code)
		}
	})

	t.Run("the cookie is HttpOnly and SameSite=Strict", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ck := resp.Header.Get("Set-Cookie")
		if !strings.Contains(ck, "pier_session=") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
			t.Errorf("Set-Cookie: %q", ck)
		}
	})

	t.Run("a login link works once", func(t *testing.T) {
		tok, _ := svc.NewLoginToken()
		b := newBrowser(t, srv)
		csrf := b.csrf("/login?token=" + tok) // the page does not use the token up
		if code, _, h := b.post("/login/link", url.Values{"_csrf": {csrf}, "token": {tok}}); code != http.StatusSeeOther || h.Get("Location") != "/" {
			t.Fatalf("login with a link: %d %q", code, h.Get("Location"))
		}
		if code, _, _ := b.get("/"); code != http.StatusOK {
			t.Fatalf("apps page after a link login: %d", code)
		}
		other := newBrowser(t, srv)
		csrf = other.csrf("/login?token=" + tok)
		if code, body, _ := other.post("/login/link", url.Values{"_csrf": {csrf}, "token": {tok}}); code != http.StatusUnauthorized || !strings.Contains(body, "unknown, used or expired") {
			t.Fatalf("a used link: %d\n%s", code, body)
		}
	})

	t.Run("a password change ends every session", func(t *testing.T) {
		b := newBrowser(t, srv)
		b.login()
		if code, _, _ := b.get("/"); code != http.StatusOK {
			t.Fatalf("apps page: %d", code)
		}
		if err := svc.SetAdminPassword(context.Background(), "another long password"); err != nil {
			t.Fatal(err)
		}
		defer svc.SetAdminPassword(context.Background(), password)
		if code, _, h := b.get("/"); code != http.StatusSeeOther || h.Get("Location") != "/login" {
			t.Errorf("apps page after the password changed: %d to %q, want 303 to /login", code, h.Get("Location"))
		}
	})

	t.Run("logging out ends the session", func(t *testing.T) {
		b := newBrowser(t, srv)
		b.login()
		if code, _, _ := b.post("/logout", url.Values{"_csrf": {b.csrf("/")}}); code != http.StatusSeeOther {
			t.Fatalf("logout: %d", code)
		}
		if code, _, _ := b.get("/"); code != http.StatusSeeOther {
			t.Errorf("apps page after logout: %d, want a redirect to the login", code)
		}
	})
}

func TestPagesAndActions(t *testing.T) {
	srv, svc, src := dashboard(t)
	b := newBrowser(t, srv)
	b.login()
	ctx := context.Background()

	tests := []struct {
		path string
		want []string
		not  []string
	}{
		{"/", []string{"hello", "http://hello.example.test", "running", "v2", "0/1 running"}, nil},
		{"/apps/hello", []string{"node server.js", "Roll back to v1", "SECRET_KEY", "********", "cron1", "python3 report.py",
			"Frozen after 15m0s", `name="scale.web"`, "/apps/hello/logs", "hello.localhost", "https disabled",
			"HTTP basic auth for <code>alice</code>", "<code>10.0.0.0/8</code>",
			`Runs on <a href="/nodes#node-node1">node1</a>, <a href="/nodes#node-node2">node2</a>`,
			"crashed once", "Error: boom"}, []string{"very-secret-value", "crash loop"}},
		{"/apps/site", []string{"static", "the router serves <code>/app/public</code>", "Never sleeps: a static site"},
			[]string{`id="sleep-now"`, `id="stop-now"`, "Frozen after", "push the app first", "Runs on"}},
		{"/keys", []string{"No keys yet"}, nil},
		{"/events", []string{"dashboard:admin", "login"}, nil},
	}
	for _, tc := range tests {
		t.Run("GET "+tc.path, func(t *testing.T) {
			code, body, _ := b.get(tc.path)
			if code != http.StatusOK {
				t.Fatalf("%d\n%s", code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("shows %q", n)
				}
			}
		})
	}

	t.Run("an unknown app is a 404", func(t *testing.T) {
		if code, body, _ := b.get("/apps/nope"); code != http.StatusNotFound || !strings.Contains(body, "does not exist") {
			t.Errorf("%d\n%s", code, body)
		}
	})

	t.Run("a form without the CSRF token is refused", func(t *testing.T) {
		code, body, _ := b.post("/apps/hello/config", url.Values{"key": {"A"}, "value": {"1"}})
		if code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Fatalf("%d\n%s", code, body)
		}
		code, _, _ = b.post("/apps/hello/config", url.Values{"_csrf": {"forged"}, "key": {"A"}, "value": {"1"}})
		if code != http.StatusForbidden {
			t.Fatalf("forged token: %d", code)
		}
		if cfg, _ := svc.Config(ctx, "hello"); cfg["A"] != "" {
			t.Errorf("config changed without a token: %v", cfg)
		}
	})

	t.Run("a failing action says why and records nothing", func(t *testing.T) {
		tok := b.csrf("/apps/hello")
		code, _, h := b.post("/apps/hello/config", url.Values{"_csrf": {tok}, "key": {"PORT"}, "value": {"1"}})
		if code != http.StatusSeeOther || h.Get("Location") != "/apps/hello" {
			t.Fatalf("%d %q", code, h.Get("Location"))
		}
		if _, body, _ := b.get("/apps/hello"); !strings.Contains(body, "set by pier and cannot be changed") {
			t.Errorf("the app page does not say why:\n%s", body)
		}
		evs, _ := svc.Events(ctx, "hello", 10)
		for _, e := range evs {
			if e.Action == "config:set" {
				t.Errorf("a failed action was recorded: %+v", e)
			}
		}
	})

	t.Run("the log streams over SSE and ends when the client goes away", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/apps/hello/logs", nil)
		req.Header.Set("Accept", "text/event-stream")
		cctx, cancel := context.WithCancel(ctx)
		resp, err := b.c.Do(req.WithContext(cctx))
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "data: ") {
				if !strings.Contains(line, "hello from hello") {
					t.Fatalf("got %q", line)
				}
				break
			}
		}
		cancel()
		resp.Body.Close()
		select {
		case <-src.gone:
		case <-time.After(5 * time.Second):
			t.Fatal("the log stream did not end after the client left")
		}
	})
}

func TestWrongPasswordRateLimited(t *testing.T) {
	srv, _, _ := dashboard(t)
	b := newBrowser(t, srv)
	tok := b.csrf("/login")
	for i := range 5 {
		code, body, _ := b.post("/login", url.Values{"_csrf": {tok}, "password": {"not the password"}})
		if code != http.StatusUnauthorized || !strings.Contains(body, "Wrong password.") {
			t.Fatalf("attempt %d: %d\n%s", i+1, code, body)
		}
	}
	code, body, h := b.post("/login", url.Values{"_csrf": {tok}, "password": {password}})
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed logins") {
		t.Fatalf("6th attempt: %d, Retry-After %q\n%s", code, h.Get("Retry-After"), body)
	}
}

// The embedded templates parse (New defers parsing to the first page).
func TestTemplates(t *testing.T) {
	srv, _, _ := dashboard(t)
	if code, body, _ := newBrowser(t, srv).get("/login"); code != http.StatusOK || !strings.Contains(body, "Admin password") {
		t.Fatalf("login page: %d\n%s", code, body)
	}
}

// Wrong passwords sent all at once, or from many addresses of one IPv6
// /64, get no more tries than the limit: the check and the count are one
// step, and an IPv6 client is counted by its /64.
func TestConcurrentWrongPasswordsAreLimited(t *testing.T) {
	for _, tt := range []struct {
		name   string
		remote func(i int) string
	}{
		{"at once from one address", func(int) string { return "192.0.2.1:4000" }},
		{"at once from one /64", func(i int) string { return fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, _ := dashboard(t)
			b := newBrowser(t, srv)
			tok := b.csrf("/login")
			base, _ := url.Parse(srv.URL)
			cookies := b.c.Jar.Cookies(base)
			const tries = 20
			codes := make([]int, tries)
			var wg sync.WaitGroup
			for i := range tries {
				wg.Add(1)
				go func() {
					defer wg.Done()
					form := url.Values{"_csrf": {tok}, "password": {"not the password"}}
					req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.RemoteAddr = tt.remote(i)
					for _, c := range cookies {
						req.AddCookie(c)
					}
					rec := httptest.NewRecorder()
					srv.Config.Handler.ServeHTTP(rec, req)
					codes[i] = rec.Code
				}()
			}
			wg.Wait()
			checked := 0
			for _, c := range codes {
				switch c {
				case http.StatusUnauthorized:
					checked++
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("answers %v: want only 401 and 429", codes)
				}
			}
			if checked > 5 {
				t.Errorf("%d of %d wrong passwords were checked, want at most 5 (answers %v)", checked, tries, codes)
			}
		})
	}
}

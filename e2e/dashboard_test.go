package e2e

// The dashboard in a real browser (Debian's chromium, driven over the
// DevTools protocol by chromedp) against the real daemon.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pier/runtime/runtimetest"
)

const chromium = "/usr/bin/chromium"

// loggingApp answers every request with its version and prints its path.
func loggingApp(version string) map[string]string {
	return map[string]string{
		"Procfile": "web: python3 app.py\ncron1: @yearly echo report for $GREETING\n",
		"app.py": `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        print("request " + self.path, flush=True)
        b = b"` + version + `"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers()
        self.wfile.write(b)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

// artifacts is where the test leaves its screenshots: $PIER_ARTIFACTS, or
// /tmp/pier-artifacts/dashboard.
func artifacts(t *testing.T) string {
	dir := os.Getenv("PIER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "pier-artifacts")
	}
	dir = filepath.Join(dir, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browser starts a headless chromium with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	runtimetest.Require(t, chromium)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP *.localhost 127.0.0.1"),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func TestDashboardInBrowser(t *testing.T) {
	adminPort := freePort(t)
	d := startDaemon(t, "--admin", fmt.Sprintf("127.0.0.1:%d", adminPort))
	ctx := browser(t)
	shots := artifacts(t)

	repo := gitRepo(t, loggingApp("v1"))
	if out, ok := d.push(repo, "hello", d.key); !ok {
		t.Fatalf("push v1:\n%s", out)
	}
	commit(t, repo, loggingApp("v2"))
	if out, ok := d.push(repo, "hello", d.key); !ok {
		t.Fatalf("push v2:\n%s", out)
	}
	if got := d.body("hello", "/"); got != "v2" {
		t.Fatalf("hello answers %q, want v2", got)
	}
	const password = "a long enough password"
	if out, code := d.pier(strings.NewReader(password+"\n"), "admin:password"); code != 0 || !strings.Contains(out, "pier.localhost") {
		t.Fatalf("admin:password: exit %d\n%s", code, out)
	}
	base := fmt.Sprintf("http://pier.localhost:%d", d.httpPort)

	type action = chromedp.Action[chromedp.Void]
	step := func(name string, actions ...action) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v\npage:\n%s", name, err, html)
		}
	}
	// submit clicks a form's button and waits for the page it leads to.
	submit := func(sel string) action {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
			return err
		})
	}
	shot := func(name string) action {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	waitText := func(sel, want string) action {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent?.includes(%q)`, sel, want),
			chromedp.WithPollingTimeout(45*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))
	}

	t.Run("a wrong password is refused", func(t *testing.T) {
		step("wrong password",
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS("#password")),
			shot("login"),
			chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
			submit("#login"),
			chromedp.WaitVisible(chromedp.CSS("#login-error")),
		)
		if got := text("#login-error"); got != "Wrong password." {
			t.Fatalf("got %q, want %q", got, "Wrong password.")
		}
	})

	t.Run("log in and see the apps", func(t *testing.T) {
		step("log in",
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			submit("#login"),
			chromedp.WaitVisible(chromedp.CSS("table.apps")),
			shot("apps"),
		)
		row := text("table.apps tbody")
		for _, want := range []string{"hello", "running", "v2", "1/1 running", fmt.Sprintf("http://hello.localhost:%d", d.httpPort)} {
			if !strings.Contains(row, want) {
				t.Errorf("the apps page lacks %q:\n%s", want, row)
			}
		}
		if !regexp.MustCompile(`\d (MiB|KiB)`).MatchString(row) {
			t.Errorf("the apps page shows no memory use (from the instance's cgroup):\n%s", row)
		}
		step("phone-sized", chromedp.EmulateViewport(390, 844), shot("apps-phone"), chromedp.EmulateViewport(1200, 900))
	})

	t.Run("open the app, watch its log, scale it and roll it back", func(t *testing.T) {
		step("open the app",
			submit("a.app-link"),
			chromedp.WaitVisible(chromedp.CSS("#scale-web")),
			waitText("#log-state", "Live"),
		)
		path := fmt.Sprintf("/seen-by-the-dashboard-%d", time.Now().UnixNano())
		d.body("hello", path)
		step("the live log receives the request", waitText("#log", "request "+path))

		step("scale",
			chromedp.SetValue(chromedp.CSS("#scale-web"), "2"),
			submit("#scale"),
			waitText(".flash", "Scaled to web=2."),
			waitText(".running-web", "2/2"),
			shot("app"),
		)
		if out := d.mustPier("ps:report", "hello"); !strings.Contains(out, "web") || !strings.Contains(out, "2") {
			t.Errorf("ps:report after scaling:\n%s", out)
		}

		step("roll back asks first",
			submit("#rollback-v1"),
			waitText("h1", "Roll hello back to v1?"),
			shot("confirm-rollback"),
			submit("#cancel"),
			waitText("#releases", "v2 (current)"),
		)
		if got := d.body("hello", "/"); got != "v2" {
			t.Errorf("after a cancelled rollback hello answers %q, want v2", got)
		}
		step("roll back",
			submit("#rollback-v1"),
			waitText("h1", "Roll hello back to v1?"),
			submit("#confirm"),
			waitText(".flash", "Rolled back to v1."),
			waitText("#releases", "v3 (current)"),
			shot("app-rolled-back"),
		)
		if got := d.body("hello", "/"); got != "v1" {
			t.Errorf("after the rollback hello answers %q, want v1", got)
		}
	})

	t.Run("set config, run a cron entry and put the app to sleep", func(t *testing.T) {
		step("set config",
			chromedp.SendKeys(chromedp.CSS("#config-key"), "GREETING"),
			chromedp.SendKeys(chromedp.CSS("#config-value"), "hi-from-the-dashboard"),
			submit("#config-set"),
			waitText(".flash", "Set GREETING"),
		)
		if got := text("#config"); !strings.Contains(got, "GREETING") || strings.Contains(got, "hi-from-the-dashboard") {
			t.Errorf("config section (the value must be masked):\n%s", got)
		}
		if got := strings.TrimSpace(d.mustPier("config:get", "hello", "GREETING")); got != "hi-from-the-dashboard" {
			t.Errorf("config:get GREETING: %q", got)
		}

		step("run the cron entry", submit("#run-cron1"), waitText(".flash", "Started cron1"))
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(text("#cron"), "succeeded (exit 0)") {
			if time.Now().After(deadline) {
				t.Fatalf("the cron run never shows as succeeded:\n%s\n%s", text("#cron"), d.mustPier("cron:runs", "hello", "cron1"))
			}
			time.Sleep(300 * time.Millisecond)
			step("reload", chromedp.Navigate(base+"/apps/hello"))
		}
		if out := d.mustPier("cron:runs", "hello", "cron1"); !strings.Contains(out, "report for hi-from-the-dashboard") {
			t.Errorf("cron:runs after a run from the dashboard:\n%s", out)
		}

		step("sleep now", submit("#sleep-now"), waitText(".flash", "Frozen"), waitText("h1", "frozen"), shot("app-frozen"))
		if got := d.body("hello", "/"); got != "v1" {
			t.Errorf("a request to the frozen app: %q, want v1", got)
		}

		step("unset asks first", submit("#unset-GREETING"), waitText("h1", "Unset GREETING of hello?"),
			submit("#confirm"), waitText(".flash", "Unset GREETING"))
		if out, code := d.pier(nil, "config:get", "hello", "GREETING"); code == 0 {
			t.Errorf("GREETING after the unset: %q", out)
		}
		step("stop asks first", submit("#stop"), waitText("h1", "Stop hello?"), submit("#confirm"),
			waitText(".flash", "Stopped"), waitText("h1", "stopped"))
		if code, body, _ := d.get("hello", "/"); code != 503 || !strings.Contains(body, "hello is stopped") {
			t.Errorf("the stopped app answers %d %q", code, body)
		}
		step("start", submit("#start"), waitText(".flash", "Started"))
		if got := d.body("hello", "/"); got != "v1" {
			t.Errorf("after start: %q", got)
		}
	})

	t.Run("the app page shows its git remote, limits and volumes; destroy wants the name", func(t *testing.T) {
		d.mustPier("storage:mount", "hello", "data:/data")
		step("open the app", chromedp.Navigate(base+"/apps/hello"), chromedp.WaitVisible(chromedp.CSS("#setup")))
		if got := text("#git-remote"); got != fmt.Sprintf("ssh://pier@pier.localhost:%d/hello", d.sshPort) {
			t.Errorf("git remote %q", got)
		}
		if got := text("#limits"); !strings.Contains(got, "256.0 MiB (the default)") {
			t.Errorf("limits %q", got)
		}
		if got := text("#volumes"); !strings.Contains(got, "data:/data") {
			t.Errorf("volumes %q", got)
		}
		d.body("hello", "/")
		step("charts", chromedp.Navigate(base+"/apps/hello"), chromedp.WaitVisible(chromedp.CSS("#charts svg.chart.requests polyline")), shot("app-charts"))
		if n, err := strconv.Atoi(text("#requests-now")); err != nil || n < 1 {
			t.Errorf("requests this minute: %q", text("#requests-now"))
		}
		step("the list's charts", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("table.apps svg.chart.requests")))
		if out, ok := d.push(gitRepo(t, loggingApp("doomed")), "doomed", d.key); !ok {
			t.Fatalf("push doomed:\n%s", out)
		}
		step("destroy with the wrong name", chromedp.Navigate(base+"/apps/doomed"), submit("#destroy"),
			waitText("h1", "Destroy doomed?"), chromedp.SendKeys(chromedp.CSS("#confirm-name"), "hello"),
			submit("#confirm"), waitText(".flash", "nothing was removed"))
		if code, _, _ := d.get("doomed", "/"); code != 200 {
			t.Errorf("doomed after a refused destroy answers %d", code)
		}
		step("destroy", submit("#destroy"), waitText("h1", "Destroy doomed?"), shot("confirm-destroy"),
			chromedp.SendKeys(chromedp.CSS("#confirm-name"), "doomed"), submit("#confirm"), waitText(".flash", "Destroyed doomed."))
		if out, code := d.pier(nil, "apps:exists", "doomed"); code == 0 {
			t.Errorf("doomed exists after its destroy: %s", out)
		}
	})

	t.Run("events and keys", func(t *testing.T) {
		step("events", chromedp.Navigate(base+"/events"), chromedp.WaitVisible(chromedp.CSS("table.events")), shot("events"))
		ev := text("table.events")
		for _, want := range []string{"dashboard:admin", "ps:scale hello web=2", "releases:rollback hello v1", "login",
			"config:set hello GREETING=…", "cron:run hello cron1", "sleep:now hello"} {
			if !strings.Contains(ev, want) {
				t.Errorf("events lack %q:\n%s", want, ev)
			}
		}
		step("keys", chromedp.Navigate(base+"/keys"), chromedp.WaitVisible(chromedp.CSS("table")), shot("keys"))
		if keys := text("table"); !strings.Contains(keys, "laptop") || !strings.Contains(keys, "SHA256:") {
			t.Errorf("keys page:\n%s", keys)
		}
	})

	t.Run("a request without the CSRF token is refused", func(t *testing.T) {
		step("open the app", chromedp.Navigate(base+"/apps/hello"), chromedp.WaitVisible(chromedp.CSS("#restart")))
		status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/apps/hello/restart", {method: "POST"}).then(r => r.status)`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusForbidden {
			t.Fatalf("got %d, want 403", status)
		}
	})

	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	t.Run("a login link works once, on the admin listener", func(t *testing.T) {
		out := d.mustPier("admin:login")
		link := regexp.MustCompile(regexp.QuoteMeta(admin) + `/login\?token=\S+`).FindString(out)
		if link == "" || !strings.Contains(out, "http://pier.localhost") {
			t.Fatalf("admin:login printed:\n%s", out)
		}
		c := client()
		_, tok, _ := strings.Cut(link, "?token=")
		for i, want := range []int{http.StatusSeeOther, http.StatusUnauthorized} {
			csrf := csrfOf(t, c, link)
			resp, err := c.PostForm(admin+"/login/link", url.Values{"_csrf": {csrf}, "token": {tok}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("use %d of the link: %d, want %d", i+1, resp.StatusCode, want)
			}
		}
		if resp, err := c.Get(admin + "/metrics"); err != nil || resp.StatusCode != 200 {
			t.Errorf("metrics next to the dashboard: %v %v", resp, err)
		}
	})

	t.Run("wrong passwords are rate-limited", func(t *testing.T) {
		c := client()
		csrf := csrfOf(t, c, admin+"/login")
		var last *http.Response
		for i := 0; i < 6; i++ {
			resp, err := c.PostForm(admin+"/login", url.Values{"_csrf": {csrf}, "password": {"guess " + fmt.Sprint(i)}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			last = resp
			if resp.StatusCode == http.StatusTooManyRequests {
				break
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
			}
		}
		if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
			t.Fatalf("after 6 wrong passwords: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
		}
	})

	t.Run("the events page pages", func(t *testing.T) {
		for i := 0; i < 60; i++ {
			d.mustPier("config:set", "hello", "--no-restart", fmt.Sprintf("N=%d", i))
		}
		step("events", chromedp.Navigate(base+"/events"), chromedp.WaitVisible(chromedp.CSS("#older")), submit("#older"),
			chromedp.WaitVisible(chromedp.CSS("#newer")))
		if got := text("table.events"); !strings.Contains(got, "releases:rollback hello v1") {
			t.Errorf("the second page of events:\n%s", got)
		}
	})
}

// client is an HTTP client with cookies that does not follow redirects.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// csrfOf returns the CSRF token of the form at u.
func csrfOf(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CSRF token at %s (%d):\n%s", u, resp.StatusCode, b)
	}
	return string(m[1])
}

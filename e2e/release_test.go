package e2e

// End-to-end tests of releases: zero-downtime deploys, config, rollback,
// scaling, health checks, the release phase, volumes, one-off commands.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// releaseApp is a Python app that tells which version, instance and config
// answered, and reads a file from its volume.
func releaseApp(version string) map[string]string {
	return map[string]string{
		"Procfile": "web: python3 app.py\nworker: python3 -c 'import time; time.sleep(86400)'\ncrasher: echo boom; exit 1\n",
		"app.py": `import http.server, os, uuid
ID = uuid.uuid4().hex[:8]
VERSION = "` + version + `"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/id":
            body = ID
        elif self.path == "/config":
            body = os.environ.get("GREETING", "-")
        elif self.path == "/file":
            body = open("/data/f").read() if os.path.exists("/data/f") else "no file"
        else:
            body = VERSION
        b = body.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers()
        self.wfile.write(b)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

// load sends requests to app from several clients until stop is closed and
// counts answers that are not 200 and connection errors.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	stop       chan struct{}
	done       sync.WaitGroup
}

func startLoad(d *daemon, app string, clients int) *load {
	l := &load{stop: make(chan struct{})}
	for i := 0; i < clients; i++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.httpPort), nil)
				req.Host = app + ".localhost"
				resp, err := client.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.failures) < 10 {
						if err != nil {
							l.failures = append(l.failures, err.Error())
						} else {
							l.failures = append(l.failures, resp.Status)
						}
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *load) finish() { close(l.stop); l.done.Wait() }

func (d *daemon) body(app, path string) string {
	d.t.Helper()
	code, body, err := d.get(app, path)
	if err != nil || code != 200 {
		d.t.Fatalf("GET %s%s: %d %q %v", app, path, code, body, err)
	}
	return body
}

func (d *daemon) mustPier(args ...string) string {
	d.t.Helper()
	out, code := d.pier(nil, args...)
	if code != 0 {
		d.t.Fatalf("pier %v: exit %d\n%s", args, code, out)
	}
	return out
}

// settle waits until the instances retired by earlier changes are gone.
func (d *daemon) settle() {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		list, err := d.rt.Instances(context.Background())
		if err != nil {
			d.t.Fatal(err)
		}
		cur, stale := d.current(), 0
		for _, in := range list {
			if in.Release != cur {
				stale++
			}
		}
		if stale == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.t.Fatal("retired instances did not stop within 30s")
}

// current is the version of hello's current release.
func (d *daemon) current() int {
	d.t.Helper()
	var rs []struct {
		Version int  `json:"version"`
		Current bool `json:"current"`
	}
	if err := json.Unmarshal([]byte(d.mustPier("releases", "hello", "--format", "json")), &rs); err != nil {
		d.t.Fatal(err)
	}
	for _, r := range rs {
		if r.Current {
			return r.Version
		}
	}
	d.t.Fatal("no current release")
	return 0
}

func TestReleases(t *testing.T) {
	d := startDaemon(t)
	repo := gitRepo(t, releaseApp("v1"))
	if out, ok := d.push(repo, "hello", d.key); !ok {
		t.Fatalf("first push:\n%s", out)
	}
	d.mustPier("config:set", "hello", "GREETING=first")
	if got := d.body("hello", "/config"); got != "first" {
		t.Fatalf("config after config:set: got %q, want %q", got, "first")
	}
	// v1 = first push, v2 = GREETING=first

	t.Run("a config change that changes nothing makes no release", func(t *testing.T) {
		before := d.current()
		for _, args := range [][]string{{"config:unset", "hello", "NOT_SET"}, {"config:set", "hello", "GREETING=first"}} {
			if out := d.mustPier(args...); !strings.Contains(out, "unchanged") {
				t.Errorf("%v: %q", args, out)
			}
		}
		if after := d.current(); after != before {
			t.Errorf("current release went from v%d to v%d", before, after)
		}
	})

	t.Run("logs of a process type the app does not have is an error", func(t *testing.T) {
		out, code := d.pier(nil, "logs", "hello", "-p", "wokr")
		if code != 1 || !strings.Contains(out, `hello has no process type "wokr": its processes are crasher, web, worker`) {
			t.Errorf("logs -p wokr: exit %d %q", code, out)
		}
		if _, code := d.pier(nil, "logs", "hello", "-p", "web", "-n", "5"); code != 0 {
			t.Errorf("logs -p web: exit %d", code)
		}
	})

	t.Run("rollback serves the old code and the old config", func(t *testing.T) {
		commit(t, repo, map[string]string{"app.py": releaseApp("v1b")["app.py"]})
		if out, ok := d.push(repo, "hello", d.key); !ok { // v3
			t.Fatalf("push:\n%s", out)
		}
		d.mustPier("releases:rollback", "hello", "v1") // v4
		if got := d.body("hello", "/"); got != "v1" {
			t.Errorf("code after rollback to v1: got %q, want v1", got)
		}
		if got := d.body("hello", "/config"); got != "-" {
			t.Errorf("config after rollback to v1: got %q, want no GREETING", got)
		}
		out := d.mustPier("releases", "hello")
		if !strings.Contains(out, "rollback to v1") || !strings.Contains(out, "(current)") {
			t.Errorf("releases:\n%s", out)
		}
		d.mustPier("config:set", "hello", "GREETING=back") // v5
	})

	t.Run("zero failed requests through deploys, config changes and a rollback", func(t *testing.T) {
		l := startLoad(d, "hello", 4)
		for i := 2; i <= 6; i++ {
			commit(t, repo, map[string]string{"app.py": releaseApp(fmt.Sprintf("v%d", i))["app.py"]})
			if out, ok := d.push(repo, "hello", d.key); !ok {
				l.finish()
				t.Fatalf("deploy %d:\n%s", i, out)
			}
		}
		last := d.current()
		d.mustPier("config:set", "hello", "GREETING=second")
		d.mustPier("config:set", "hello", "OTHER=1")
		d.mustPier("releases:rollback", "hello", fmt.Sprintf("v%d", last))
		time.Sleep(2 * time.Second) // retired instances drain and stop under load
		l.finish()
		t.Logf("%d requests answered, %d failed", l.ok.Load(), l.failed.Load())
		if l.failed.Load() != 0 || l.ok.Load() < 100 {
			t.Fatalf("%d failed requests (%d ok): %q", l.failed.Load(), l.ok.Load(), l.failures)
		}
		if got, cfg := d.body("hello", "/"), d.body("hello", "/config"); got != "v6" || cfg != "back" {
			t.Errorf("after rolling back to v%d got %q with GREETING %q, want v6 with back", last, got, cfg)
		}
		out := d.mustPier("releases", "hello")
		if n := strings.Count(strings.TrimSpace(out), "\n"); n != 5 {
			t.Errorf("releases lists %d releases, want the last 5:\n%s", n, out)
		}
	})

	t.Run("scale web=3 spreads requests over three instances", func(t *testing.T) {
		d.mustPier("ps:scale", "hello", "web=3", "worker=1")
		seen := map[string]bool{}
		for i := 0; i < 30; i++ {
			seen[d.body("hello", "/id")] = true
		}
		if len(seen) != 3 {
			t.Errorf("requests reached %d instances, want 3: %v", len(seen), seen)
		}
		report := d.mustPier("ps:report", "hello")
		if !strings.Contains(report, "web:     3/3") && !strings.Contains(report, "3/3 running") {
			t.Errorf("ps:report after scaling:\n%s", report)
		}
		if !strings.Contains(report, "worker:") || !strings.Contains(report, "1/1 running") {
			t.Errorf("ps:report has no running worker:\n%s", report)
		}
		d.mustPier("ps:scale", "hello", "web=1", "worker=0")
		time.Sleep(1500 * time.Millisecond)
		seen = map[string]bool{}
		for i := 0; i < 10; i++ {
			seen[d.body("hello", "/id")] = true
		}
		if len(seen) != 1 {
			t.Errorf("after scaling back to 1, requests reached %d instances", len(seen))
		}
	})

	t.Run("volume data survives a redeploy and a rollback", func(t *testing.T) {
		d.mustPier("storage:mount", "hello", "data:/data")
		d.mustPier("ps:restart", "hello")
		out, code := d.pier(nil, "run", "hello", "--", "sh", "-c", "echo kept > /data/f && echo written")
		if code != 0 || !strings.Contains(out, "written") {
			t.Fatalf("run: exit %d: %s", code, out)
		}
		if _, code := d.pier(nil, "run", "hello", "--", "sh", "-c", "exit 7"); code != 7 {
			t.Errorf("run's exit code: got %d, want 7", code)
		}
		commit(t, repo, map[string]string{"app.py": releaseApp("v7")["app.py"]})
		if out, ok := d.push(repo, "hello", d.key); !ok {
			t.Fatalf("deploy:\n%s", out)
		}
		if got := d.body("hello", "/file"); got != "kept\n" {
			t.Errorf("after redeploy /data/f = %q", got)
		}
		d.mustPier("releases:rollback", "hello", fmt.Sprintf("v%d", d.current()-1))
		if got := d.body("hello", "/file"); got != "kept\n" {
			t.Errorf("after rollback /data/f = %q", got)
		}
	})

	t.Run("a health check that never passes rejects the push", func(t *testing.T) {
		before := d.body("hello", "/")
		d.settle()
		containers, snaps := d.env.Containers(t), d.env.Snapshots(t)
		commit(t, repo, map[string]string{"app.json": `{"healthchecks":{"web":[{"type":"startup","path":"/","content":"never there","attempts":2,"wait":0,"timeout":2}]}}`})
		out, ok := d.push(repo, "hello", d.key)
		if ok || !strings.Contains(out, "never there") {
			t.Fatalf("push with a failing check: ok=%v\n%s", ok, out)
		}
		if got := d.body("hello", "/"); got != before {
			t.Errorf("after the rejected push got %q, want %q", got, before)
		}
		time.Sleep(time.Second)
		if c, s := d.env.Containers(t), d.env.Snapshots(t); c != containers || s != snaps {
			t.Errorf("leftovers: containers %d → %d, snapshots %d → %d", containers, c, snaps, s)
		}
		commit(t, repo, map[string]string{"app.json": `{"healthchecks":{"web":[{"type":"startup","path":"/","content":"v","attempts":5,"wait":0}]}}`})
		if out, ok := d.push(repo, "hello", d.key); !ok {
			t.Fatalf("push with a passing check:\n%s", out)
		}
	})

	t.Run("a failing release phase aborts the release", func(t *testing.T) {
		before := d.body("hello", "/")
		procfile := releaseApp("")["Procfile"] + "release: echo migrating; exit 3\n"
		commit(t, repo, map[string]string{"Procfile": procfile, "app.py": releaseApp("v-bad")["app.py"]})
		out, ok := d.push(repo, "hello", d.key)
		if ok || !strings.Contains(out, "migrating") || !strings.Contains(out, "release phase") {
			t.Fatalf("push with a failing release phase: ok=%v\n%s", ok, out)
		}
		if got := d.body("hello", "/"); got != before {
			t.Errorf("after the aborted release got %q, want %q", got, before)
		}
		commit(t, repo, map[string]string{"Procfile": releaseApp("")["Procfile"] + "release: echo migrated\n"})
		if out, ok := d.push(repo, "hello", d.key); !ok || !strings.Contains(out, "migrated") {
			t.Fatalf("push with a passing release phase: ok=%v\n%s", ok, out)
		}
	})

	t.Run("malformed app.json and Procfile are rejected and change nothing", func(t *testing.T) {
		before := d.mustPier("releases", "hello")
		for _, tc := range []struct{ file, body, want string }{
			{"app.json", `{"healthchecks":{"web":[{"attempts":"three"}]}}`, "healthchecks.web[0].attempts"},
			{"app.json", `{"formation": }`, "app.json"},
			{"Procfile", "web python3 app.py\n", "Procfile line 1"},
		} {
			commit(t, repo, map[string]string{tc.file: tc.body})
			out, ok := d.push(repo, "hello", d.key)
			if ok || !strings.Contains(out, tc.want) {
				t.Errorf("push of a bad %s: ok=%v, output lacks %q:\n%s", tc.file, ok, tc.want, out)
			}
			commit(t, repo, map[string]string{"app.json": "{}", "Procfile": releaseApp("")["Procfile"]})
		}
		if after := d.mustPier("releases", "hello"); after != before {
			t.Errorf("releases changed:\n%s\nwas:\n%s", after, before)
		}
	})

	t.Run("a crashing process is restarted with backoff and shown in ps:report", func(t *testing.T) {
		d.mustPier("ps:scale", "hello", "crasher=1")
		deadline := time.Now().Add(20 * time.Second)
		var report string
		for time.Now().Before(deadline) {
			report = d.mustPier("ps:report", "hello")
			if strings.Contains(report, "crashed 2 times") {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if !strings.Contains(report, "CRASH LOOP") || !strings.Contains(report, "boom") {
			t.Fatalf("ps:report does not show the crash loop:\n%s", report)
		}
		if got := d.body("hello", "/config"); got != "back" {
			t.Errorf("web while the crasher loops: /config = %q", got)
		}
		d.mustPier("ps:scale", "hello", "crasher=0")
	})

	t.Run("ps:stop and ps:start", func(t *testing.T) {
		d.mustPier("ps:stop", "hello")
		if code, _, _ := d.get("hello", "/"); code == 200 {
			t.Errorf("a stopped app answers 200")
		}
		d.mustPier("ps:start", "hello")
		if got := d.body("hello", "/config"); got != "back" {
			t.Errorf("after ps:start /config = %q", got)
		}
	})

	if n, _ := d.rt.Instances(context.Background()); len(n) > 3 {
		time.Sleep(3 * time.Second)
	}
}

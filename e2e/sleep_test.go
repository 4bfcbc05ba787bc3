package e2e

// End-to-end tests of idle apps sleeping and waking on the next request.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// sleepyApp answers "awake", streams server-sent events on /stream, and
// exits at start while /data/crash exists.
func sleepyApp() map[string]string {
	return map[string]string{
		"Procfile": "web: python3 app.py\n",
		"app.py": `import http.server, os, sys, time
if os.path.exists("/data/crash"):
    print("cannot start: /data/crash is there", flush=True)
    sys.exit(3)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i in range(8):
                self.wfile.write(b"data: %d\n\n" % i); self.wfile.flush()
                time.sleep(0.5)
            self.close_connection = True
            return
        b = b"awake"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers()
        self.wfile.write(b)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

// state is an app's state as ps:report says it: running, frozen, stopped.
func (d *daemon) state(app string) string {
	d.t.Helper()
	var r struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(d.mustPier("ps:report", app, "--format", "json")), &r); err != nil {
		d.t.Fatal(err)
	}
	return r.State
}

// waitState waits until app reaches state.
func (d *daemon) waitState(app, state string, within time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for d.state(app) != state {
		if time.Now().After(deadline) {
			d.t.Fatalf("%s did not become %s within %s (it is %s)", app, state, within, d.state(app))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) webInstances(app string) int {
	d.t.Helper()
	list, err := d.rt.Instances(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	n := 0
	for _, in := range list {
		if in.App == app && in.Process == "web" {
			n++
		}
	}
	return n
}

func TestSleepAndWake(t *testing.T) {
	d := startDaemon(t, "--sleep-tick", "100ms", "--wake-timeout", "10s")
	repo := gitRepo(t, sleepyApp())
	for _, name := range []string{"sleepy", "other"} {
		if out, ok := d.push(repo, name, d.key); !ok {
			t.Fatalf("push %s:\n%s", name, out)
		}
	}
	d.mustPier("sleep:disable", "other")

	t.Run("frozen after the idle period, answered on the next request", func(t *testing.T) {
		d.mustPier("sleep:set", "sleepy", "after=1s", "stop_after=1h")
		d.waitState("sleepy", "frozen", 10*time.Second)
		if got := d.body("sleepy", "/"); got != "awake" {
			t.Fatalf("from frozen: got %q", got)
		}
		if s := d.state("sleepy"); s != "running" {
			t.Errorf("after a request the app is %s, want running", s)
		}
	})

	t.Run("stopped after the longer period, answered on the next request", func(t *testing.T) {
		d.mustPier("sleep:set", "sleepy", "after=1s", "stop_after=2s")
		d.waitState("sleepy", "stopped", 15*time.Second)
		if n := d.webInstances("sleepy"); n != 0 {
			t.Fatalf("a stopped app has %d instances", n)
		}
		if got := d.body("sleepy", "/"); got != "awake" {
			t.Fatalf("from stopped: got %q", got)
		}
	})

	t.Run("50 concurrent requests to a stopped app share one start", func(t *testing.T) {
		d.mustPier("sleep:set", "sleepy", "after=1h")
		d.mustPier("sleep:now", "sleepy", "--stop")
		wakes := strings.Count(d.log.String(), `msg=woke component=node app=sleepy`)
		var wg sync.WaitGroup
		codes := make(chan string, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, body, err := d.get("sleepy", "/")
				codes <- fmt.Sprintf("%d %s %v", code, body, err)
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != "200 awake <nil>" {
				t.Errorf("a held request got %q", c)
			}
		}
		if n := strings.Count(d.log.String(), `msg=woke component=node app=sleepy`) - wakes; n != 1 {
			t.Errorf("%d wakes, want 1", n)
		}
		if n := d.webInstances("sleepy"); n != 1 {
			t.Errorf("%d web instances after the wake, want 1", n)
		}
	})

	t.Run("an open stream keeps the app awake", func(t *testing.T) {
		d.mustPier("sleep:set", "sleepy", "after=1s", "stop_after=1h")
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/stream", d.httpPort), nil)
		req.Host = "sleepy.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		start, events := time.Now(), 0
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") {
				events++
				if s := d.state("sleepy"); s != "running" {
					t.Fatalf("during the stream (%s in) the app is %s", time.Since(start).Round(time.Millisecond), s)
				}
			}
		}
		if events != 8 || time.Since(start) < 3*time.Second {
			t.Fatalf("stream: %d events in %s", events, time.Since(start))
		}
		d.waitState("sleepy", "frozen", 10*time.Second)
	})

	t.Run("an app that cannot start gets a 503 within the timeout; others are served", func(t *testing.T) {
		d.mustPier("storage:mount", "sleepy", "data:/data")
		d.mustPier("run", "sleepy", "--", "touch", "/data/crash")
		d.mustPier("sleep:now", "sleepy", "--stop")
		start := time.Now()
		code, body, err := d.get("sleepy", "/")
		took := time.Since(start)
		if err != nil || code != 503 || !strings.Contains(body, "failing to start") {
			t.Fatalf("got %d %q %v, want the 503 page", code, body, err)
		}
		if took > 11*time.Second {
			t.Errorf("the 503 came after %s, want within the 10s wake timeout", took)
		}
		if got := d.body("other", "/"); got != "awake" {
			t.Errorf("another app while one fails to wake: %q", got)
		}
		if out := d.mustPier("logs", "sleepy", "-n", "20"); !strings.Contains(out, "cannot start") {
			t.Errorf("logs do not say why:\n%s", out)
		}
		d.mustPier("run", "sleepy", "--", "rm", "/data/crash")
		if got := d.body("sleepy", "/"); got != "awake" {
			t.Fatalf("after the cause is gone: %q", got)
		}
	})

	t.Run("short of memory, frozen apps are stopped", func(t *testing.T) {
		d.mustPier("sleep:reset", "other")
		d.mustPier("sleep:set", "other", "after=1s", "stop_after=1h")
		d.mustPier("sleep:set", "sleepy", "after=1s", "stop_after=1h")
		d.waitState("sleepy", "frozen", 10*time.Second)
		d.waitState("other", "frozen", 10*time.Second)
		d.stop()
		d.flags = append(d.flags, "--min-available", "100000000") // 100 TB: always short
		d.start()
		d.waitState("sleepy", "stopped", 10*time.Second)
		d.waitState("other", "stopped", 10*time.Second)
		if got := d.body("other", "/"); got != "awake" {
			t.Fatalf("after demotion: %q", got)
		}
	})
}

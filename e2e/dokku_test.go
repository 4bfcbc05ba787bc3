package e2e

// End-to-end tests of what a Dokku or Heroku user brings: an app.json with
// comments, scripts writing under /app, Procfile process names as
// commands, and interactive `run` over a real ssh.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// dokkuApp writes under /app from its web process, its release phase and
// its predeploy script, and reports what it finds.
func dokkuApp() map[string]string {
	return map[string]string{
		"Procfile": "web: python3 app.py\n" +
			"console: echo console says $GREETING\n" +
			"release: touch /app/release.test && echo release ran\n",
		"app.json": `{
  // Dokku's own test apps carry comments and trailing commas.
  "scripts": {"dokku": {
    "predeploy": "echo kept > /app/predeploy.test", /* in the image */
  }},
  "env": {"GREETING": {"value": "hello"}},
  "cron": [{"id": "console", "schedule": "@yearly", "command": "console from cron"},],
}`,
		"app.py": `import http.server, os
open("/app/web.test", "w").write("web")
def usr():
    try:
        open("/usr/pier-test", "w")
        return "rw"
    except OSError as e:
        return "ro" if e.errno == 30 else "errno %d" % e.errno
state = "predeploy=%s release=%s web=%s usr=%s" % (
    os.path.exists("/app/predeploy.test"), os.path.exists("/app/release.test"),
    os.path.exists("/app/web.test"), usr())
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = state.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

func TestDokkuApps(t *testing.T) {
	adminPort := freePort(t)
	d := startDaemon(t, "--admin", fmt.Sprintf("127.0.0.1:%d", adminPort), "--settle", "3s", "--build-timeout", "15s")
	const name = "dokkuapp"
	repo := gitRepo(t, dokkuApp())
	out, ok := d.push(repo, name, d.key)
	if !ok {
		t.Fatalf("push:\n%s", out)
	}
	for _, want := range []string{"Running predeploy: echo kept", "Running release: touch /app/release.test", "release ran"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}

	t.Run("the app directory is writable; predeploy's writes are kept, the release phase's are not", func(t *testing.T) {
		if got, want := d.mustGet(name), "predeploy=True release=False web=True usr=ro"; got != want {
			t.Errorf("the web process found %q, want %q", got, want)
		}
		ls := d.mustPier("run", name, "--", "ls", "/app")
		if !strings.Contains(ls, "predeploy.test") || strings.Contains(ls, "release.test") || strings.Contains(ls, "web.test") {
			t.Errorf("a one-off sees in /app:\n%s\nwant predeploy.test alone of the three", ls)
		}
		if got := d.mustPier("run", name, "--", "sh", "-c", "echo mine > /app/run.test && cat /app/run.test"); !strings.Contains(got, "mine") {
			t.Errorf("a one-off could not write /app: %q", got)
		}
		if ls := d.mustPier("run", name, "--", "ls", "/app"); strings.Contains(ls, "run.test") {
			t.Errorf("a one-off's file outlived it:\n%s", ls)
		}
		if out, code := d.pier(nil, "run", name, "--", "sh", "-c", "id -u; touch /etc/pier-test"); code == 0 || !strings.Contains(out, "ermission denied") && !strings.Contains(out, "Read-only") {
			t.Errorf("a one-off wrote /etc (exit %d):\n%s", code, out)
		}
	})

	t.Run("app processes have a seccomp filter and no capability", func(t *testing.T) {
		st := d.mustPier("run", name, "--", "grep", "-E", "^(CapBnd|CapEff|CapPrm|Seccomp|NoNewPrivs):", "/proc/self/status")
		for _, want := range []string{"CapBnd:\t0000000000000000", "CapEff:\t0000000000000000", "Seccomp:\t2", "NoNewPrivs:\t1"} {
			if !strings.Contains(st, want) {
				t.Errorf("/proc/self/status of a one-off lacks %q:\n%s", want, st)
			}
		}
		if st := d.mustPier("enter", name, "--", "grep", "-E", "^(CapBnd|Seccomp):", "/proc/self/status"); !strings.Contains(st, "CapBnd:\t0000000000000000") || !strings.Contains(st, "Seccomp:\t2") {
			t.Errorf("/proc/self/status in the web process:\n%s", st)
		}
	})

	t.Run("a Procfile process name is a command for run and cron", func(t *testing.T) {
		if got := d.mustPier("run", name, "console"); !strings.Contains(got, "console says hello") {
			t.Errorf("run %s console: %q", name, got)
		}
		if got := d.mustPier("run", name, "console", "again"); !strings.Contains(got, "console says hello again") {
			t.Errorf("run %s console again: %q", name, got)
		}
		if got := d.mustPier("cron:run", name, "console"); !strings.Contains(got, "console says hello from cron") {
			t.Errorf("cron:run %s console: %q", name, got)
		}
	})

	t.Run("run forwards stdin", func(t *testing.T) {
		cmd := exec.Command("ssh", "-i", d.key, "-p", fmt.Sprint(d.sshPort), "-o", "IdentitiesOnly=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"pier@"+d.host, "run", name, "--", "sh", "-c", "'wc -l; cat >/dev/null'")
		cmd.Stdin = strings.NewReader(strings.Repeat("a line\n", 5000))
		got, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != "5000" {
			t.Errorf("piped 5000 lines: %v, got %q", err, got)
		}
		if got, code := d.pier(strings.NewReader("over the socket\n"), "run", name, "--", "cat"); code != 0 || got != "over the socket\n" {
			t.Errorf("pier run with stdin: exit %d, %q", code, got)
		}
	})

	t.Run("ssh -t gives the command a terminal", func(t *testing.T) {
		// script gives ssh a terminal of its own, as a user's has.
		cmd := exec.Command("script", "-qec", fmt.Sprintf("ssh -t -i %s -p %d -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "+
			"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR pier@%s run %s -- tty", d.key, d.sshPort, d.host, name), "/dev/null")
		got, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(got), "/dev/pts/") {
			t.Errorf("run -- tty under ssh -t: %v, %q", err, got)
		}
		// ssh -tt with no input sends the end of its input at once: the
		// terminal stays, and the output comes back.
		cmd = exec.Command("ssh", "-tt", "-i", d.key, "-p", fmt.Sprint(d.sshPort), "-o", "IdentitiesOnly=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"pier@"+d.host, "run", name, "--", "sh", "-c", "'sleep 0.5; echo late'")
		if got, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(got), "late") {
			t.Errorf("ssh -tt < /dev/null: %v, %q", err, got)
		}
		if got, _ := d.ssh(d.key, "run", name, "--", "tty"); !strings.Contains(got, "not a tty") {
			t.Errorf("run -- tty without -t: %q", got)
		}
	})

	t.Run("python is python3", func(t *testing.T) {
		if got := d.mustPier("run", name, "--", "python", "-c", "import sys; print(sys.version_info[0])"); strings.TrimSpace(got) != "3" {
			t.Errorf("python: %q", got)
		}
	})

	t.Run("enter runs a command in the running web process", func(t *testing.T) {
		// The web process wrote web.test into its own /app.
		if got := d.mustPier("enter", name, "--", "cat", "/app/web.test"); got != "web" {
			t.Errorf("enter %s -- cat /app/web.test: %q", name, got)
		}
		if got, code := d.pier(strings.NewReader("echo from stdin\n"), "enter", name, "web"); code != 0 || got != "from stdin\n" {
			t.Errorf("enter %s web with a script on stdin: exit %d, %q", name, code, got)
		}
		if got, code := d.pier(nil, "enter", name, "worker"); code == 0 || !strings.Contains(got, "runs no worker process") {
			t.Errorf("enter %s worker: exit %d, %q", name, code, got)
		}
		if got, code := d.pier(nil, "enter", name, "--", "exit", "5"); code != 5 {
			t.Errorf("enter's exit status: %d, %q", code, got)
		}
	})

	t.Run("ps:restart APP TYPE replaces that type alone", func(t *testing.T) {
		d.mustPier("ps:scale", name, "console=1")
		ids := func(proc string) []string {
			var out []string
			list, err := d.rt.Instances(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range list {
				if in.App == name && in.Process == proc && in.Running {
					out = append(out, in.ID)
				}
			}
			return out
		}
		// console echoes and exits: scaled up it crash-loops, which is
		// what the next test wants too; here only web matters.
		web := ids("web")
		out := d.mustPier("ps:restart", name, "web")
		if !strings.Contains(out, "Restarted the web processes of "+name) {
			t.Errorf("ps:restart %s web: %q", name, out)
		}
		waitFor(t, 15*time.Second, "the old web instance retired", func() bool {
			now := ids("web")
			return len(now) == 1 && !slices.Contains(web, now[0])
		})
		if got := d.mustGet(name); !strings.HasPrefix(got, "predeploy=True") {
			t.Errorf("after the restart: %q", got)
		}
		if out, code := d.pier(nil, "ps:restart", name, "nosuch"); code == 0 || !strings.Contains(out, "has no nosuch process") {
			t.Errorf("ps:restart of an unknown type: exit %d, %q", code, out)
		}
	})

	t.Run("a crash-looping process shows as crashing", func(t *testing.T) {
		waitFor(t, 30*time.Second, "crashing in apps:list", func() bool {
			return strings.Contains(d.mustPier("apps:list"), "crashing")
		})
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`pier_app_state{app="` + name + `",state="crashing"} 1`,
			`pier_app_instances_wanted{app="` + name + `",process="web"} 1`,
			`pier_app_instances_running{app="` + name + `",process="web"} 1`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if !regexp.MustCompile(`pier_app_crashes\{app="` + name + `",process="console"\} [1-9]`).Match(body) {
			t.Errorf("/metrics counts no crashes of console:\n%s", grepLines(string(body), name))
		}
		d.mustPier("ps:scale", name, "console=0")
		waitFor(t, 10*time.Second, "running again in apps:list", func() bool {
			return !strings.Contains(d.mustPier("apps:list"), "crashing")
		})
	})

	t.Run("the router's page says why an app does not answer", func(t *testing.T) {
		page := func(app string, wantCode int, want string) {
			t.Helper()
			code, body, err := d.get(app, "/")
			if err != nil || code != wantCode || !strings.Contains(body, want) {
				t.Errorf("GET %s: %d %v\n%s\nwant %d and %q", app, code, err, body, wantCode, want)
			}
		}
		d.mustPier("apps:create", "notyet")
		page("notyet", 404, "notyet is not deployed yet")
		page("nosuchapp", 404, "No app here")
		d.mustPier("ps:scale", name, "web=0")
		page(name, 503, name+" is scaled to zero")
		d.mustPier("ps:scale", name, "web=1")
		d.mustPier("ps:stop", name)
		page(name, 503, "ps:start "+name+" starts it again")
		d.mustPier("ps:start", name)
		if got := d.mustGet(name); !strings.HasPrefix(got, "predeploy=True") {
			t.Errorf("after ps:start: %q", got)
		}
	})

	t.Run("a slow start shows progress; ps:rebuild builds it again", func(t *testing.T) {
		commit(t, repo, map[string]string{"Procfile": strings.Replace(dokkuApp()["Procfile"], "web: python3 app.py", "web: sleep 6 && python3 app.py", 1)})
		out, ok := d.push(repo, name, d.key)
		if !ok || !strings.Contains(out, "web is not answering yet after 5s") {
			t.Errorf("push of a release slow to listen (ok=%v) shows no progress:\n%s", ok, out)
		}
		m := regexp.MustCompile(`Released v(\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("push output names no release:\n%s", out)
		}
		before, _ := strconv.Atoi(m[1])
		out = d.mustPier("ps:rebuild", name)
		for _, want := range []string{"Rebuilding " + name, "Running predeploy", fmt.Sprintf("Released v%d", before+1)} {
			if !strings.Contains(out, want) {
				t.Errorf("ps:rebuild output lacks %q:\n%s", want, out)
			}
		}
		if got := d.mustGet(name); !strings.HasPrefix(got, "predeploy=True") {
			t.Errorf("after ps:rebuild: %q", got)
		}
		if out, code := d.pier(nil, "ps:rebuild", "notyet"); code == 0 || !strings.Contains(out, "not been deployed") {
			t.Errorf("ps:rebuild of an app never pushed: exit %d, %q", code, out)
		}
	})

	t.Run("checks:skip and checks:disable change how a restart waits", func(t *testing.T) {
		// web sleeps 6 s before it listens (the previous test).
		d.mustPier("checks:skip", name, "web")
		if out := d.mustPier("ps:restart", name); strings.Contains(out, "not answering yet") {
			t.Errorf("a restart with checks skipped waited for the checks:\n%s", out)
		}
		d.mustPier("checks:disable", name)
		if out := d.mustPier("ps:restart", name, "web"); !strings.Contains(out, "Stopping web") || !strings.Contains(out, "its checks are disabled") {
			t.Errorf("a restart with checks disabled did not stop the old web first:\n%s", out)
		}
		if out := d.mustPier("checks:report", name); !strings.Contains(out, "every type: disabled") || strings.Contains(out, "web:") {
			t.Errorf("checks:report:\n%s", out)
		}
		d.mustPier("checks:enable", name)
		if out := d.mustPier("ps:restart", name); !strings.Contains(out, "not answering yet") {
			t.Errorf("a restart with checks enabled did not wait for them:\n%s", out)
		}
		if got := d.mustGet(name); !strings.HasPrefix(got, "predeploy=True") {
			t.Errorf("after the restarts: %q", got)
		}
	})

	t.Run("logs:failed shows the last failed deploy", func(t *testing.T) {
		if out := d.mustPier("logs:failed", name); !strings.Contains(out, "no failed deploy") {
			t.Errorf("logs:failed before any failure: %q", out)
		}
		commit(t, repo, map[string]string{"app.json": `{"cron": [{"schedule": "61 * * * *", "command": "true"}]}`})
		if out, ok := d.push(repo, name, d.key); ok {
			t.Fatalf("a push with a bad cron line succeeded:\n%s", out)
		}
		out := d.mustPier("logs:failed", name)
		for _, want := range []string{"the deploy that failed at", "pier: deploy " + name + ":", "61"} {
			if !strings.Contains(out, want) {
				t.Errorf("logs:failed lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("a release that passes its check and then crashes makes the push say so", func(t *testing.T) {
		crashy := map[string]string{
			"Procfile": "web: python3 -c 'import http.server, os, threading, sys; " +
				"s = http.server.HTTPServer((\"\", int(os.environ[\"PORT\"])), http.server.SimpleHTTPRequestHandler); " +
				"threading.Timer(0.5, lambda: (print(\"giving up\", flush=True), os._exit(3))).start(); s.serve_forever()'\n",
		}
		out, ok := d.push(gitRepo(t, crashy), "crashy", d.key)
		if !ok {
			t.Fatalf("push:\n%s", out)
		}
		for _, want := range []string{"passed its checks, then its web process exited", "releases:rollback crashy"} {
			if !strings.Contains(out, want) {
				t.Errorf("push output lacks %q:\n%s", want, out)
			}
		}
		d.mustPier("apps:destroy", "crashy", "--force")
	})

	t.Run("a build past its time limit is stopped and the push rejected", func(t *testing.T) {
		slow := map[string]string{
			"Procfile": "web: python3 -m http.server $PORT\n",
			"app.json": `{"scripts": {"dokku": {"predeploy": "sleep 300"}}}`,
		}
		start := time.Now()
		out, ok := d.push(gitRepo(t, slow), "slowbuild", d.key)
		if ok || !strings.Contains(out, "the build took longer than 15s and was stopped") {
			t.Errorf("push of a build that never ends (ok=%v):\n%s", ok, out)
		}
		if took := time.Since(start); took > 60*time.Second {
			t.Errorf("the rejection took %s", took)
		}
		d.mustPier("apps:destroy", "slowbuild", "--force")
	})

	t.Run("/metrics counts deploys and cron runs", func(t *testing.T) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, re := range []string{
			`pier_deploys_total\{app="` + name + `",result="released"\} [2-9]`,
			`pier_deploys_total\{app="` + name + `",result="failed"\} 1`,
			`pier_deploy_seconds_count [3-9]`,
			`pier_cron_runs_total\{app="` + name + `",result="succeeded"\} 1`,
			`pier_app_memory_bytes\{app="` + name + `"\} [1-9]`,
			`pier_app_cpu_seconds\{app="` + name + `"\} \d`,
		} {
			if !regexp.MustCompile(re).Match(body) {
				t.Errorf("/metrics lacks %s:\n%s", re, grepLines(string(body), name))
			}
		}
	})

	t.Run("an interactive shell follows window resizes", func(t *testing.T) {
		checkTerminal(t, d.sshSession(t, d.key), "run "+name+" sh")
	})
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// checkTerminal runs command (a shell) in sess under a terminal of 24x80,
// checks it sees that size and a resize to 50x132, and that the shell's
// exit status comes back.
func checkTerminal(t *testing.T, sess *gossh.Session, command string) {
	t.Helper()
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{gossh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	sess.Stdout, sess.Stderr = &out, &out
	if err := sess.Start(command); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(in, "tty; stty size")
	waitFor(t, 20*time.Second, "a terminal of 24x80", func() bool {
		return strings.Contains(out.String(), "/dev/pts/") && strings.Contains(out.String(), "24 80")
	})
	if err := sess.WindowChange(50, 132); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the resize", func() bool {
		fmt.Fprintln(in, "stty size")
		time.Sleep(200 * time.Millisecond)
		return strings.Contains(out.String(), "50 132")
	})
	fmt.Fprintln(in, "exit 7")
	if err := sess.Wait(); err == nil || !strings.Contains(err.Error(), "7") {
		t.Errorf("the shell's exit: %v, want status 7", err)
	}
}

// sshSession opens an SSH session to the daemon with the private key in
// file key.
func (d *daemon) sshSession(t *testing.T, key string) *gossh.Session {
	t.Helper()
	b, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	client, err := gossh.Dial("tcp", d.addr(d.sshPort), &gossh.ClientConfig{
		User: "pier", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls ok until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

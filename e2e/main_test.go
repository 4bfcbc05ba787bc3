package e2e

// End-to-end tests: the real pier binary, a private containerd, the real git
// and ssh clients, real HTTP through the router.

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pier/runtime"
	"pier/runtime/runtimetest"
)

var pierBin string

// helperEnv marks a process that a test started from the test binary itself
// to run one helper test (see TestRouterBenchProcess): it needs no pier
// binary.
const helperEnv = "PIER_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "pier-bin-")
	if err != nil {
		panic(err)
	}
	pierBin = filepath.Join(dir, "pier")
	// "pier" is the module's root package, the pier command, wherever in
	// the module the test runs.
	// Built as scripts/run.sh builds it, so what the tests and the
	// benchmark measure is the binary users run.
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", pierBin, "pier")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pier:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running `pier serve`: on free loopback ports (startDaemon),
// or on a node's address and the standard ports in the node's network
// namespace (startNodes).
type daemon struct {
	t          testing.TB
	freshPorts bool // its ports came from freePort and may change at the first start
	env        *runtimetest.Env
	rt         *runtime.Containerd // nil on a node: see startNodes
	data       string
	socket     string
	host       string // the address pier listens on and tests connect to
	sshPort    int
	httpPort   int
	netns      string // path of the network namespace pier runs in; "" for the test's
	key        string // private key registered as "laptop"
	cmd        *exec.Cmd
	exited     <-chan error
	log        *bytes.Buffer
	flags      []string // added to pier serve's
	cgroup     string   // cgroup.procs file pier starts in; "" for the test's
}

// startDaemon starts `pier serve` with flags added to its own, and a key
// registered as "laptop".
func startDaemon(t testing.TB, flags ...string) *daemon {
	t.Helper()
	runtimetest.Require(t, "git", "ssh", "ssh-keygen")
	env := runtimetest.Start(t)
	d := newDaemon(t, env, "127.0.0.1", freePort(t), freePort(t), flags)
	d.freshPorts = true
	d.rt = env.Runtime(t, filepath.Join(d.data, "runtime"))
	d.launch()
	return d
}

// newDaemon describes a pier on env that listens on host's sshPort and
// httpPort, in env's network namespace; launch starts it.
func newDaemon(t testing.TB, env *runtimetest.Env, host string, sshPort, httpPort int, flags []string) *daemon {
	return &daemon{t: t, env: env, data: filepath.Join(env.Dir, "data"), socket: filepath.Join(env.Dir, "pier.sock"),
		host: host, sshPort: sshPort, httpPort: httpPort, netns: env.Netns, log: &bytes.Buffer{}, flags: flags}
}

// launch starts the daemon, registers its stop at cleanup and a new key as
// "laptop". The base must be imported.
func (d *daemon) launch() {
	t := d.t
	t.Helper()
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("pier serve output (%s):\n%s", d.host, d.log.String())
		}
	})

	d.key = filepath.Join(d.env.Dir, "laptop")
	sh(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d.key)
	pub, _ := os.ReadFile(d.key + ".pub")
	if out, code := d.pier(bytes.NewReader(pub), "ssh-keys:add", "laptop"); code != 0 {
		t.Fatalf("ssh-keys:add exit %d: %s", code, out)
	}
}

// runtimeFlags are the flags of pier serve and pier base that say where
// pier keeps its data and how it runs instances.
func (d *daemon) runtimeFlags() []string {
	return []string{
		"--data", d.data, "--cache", runtimetest.CacheDir,
		"--containerd", d.env.Address,
		"--namespace", d.env.Namespace(), "--bridge", d.env.Network.Bridge, "--subnet", d.env.Network.Subnet,
		"--http", d.addr(d.httpPort), "--https", "",
		// Watching each release for an early crash would add a second
		// to every deploy; TestDokkuApps turns it on.
		"--settle", "0",
	}
}

func (d *daemon) addr(port int) string { return net.JoinHostPort(d.host, strconv.Itoa(port)) }

func (d *daemon) start() {
	err := d.serve()
	// A port freePort chose can be taken by another process before pier
	// binds it: a first start then picks others.
	for i := 0; err != nil && d.freshPorts && i < 3 && strings.Contains(err.Error(), "address already in use"); i++ {
		d.log.Reset()
		d.sshPort, d.httpPort = freePort(d.t), freePort(d.t)
		err = d.serve()
	}
	d.freshPorts = false
	if err != nil {
		d.t.Fatal(err)
	}
}

// serve starts pier serve and waits until it answers.
func (d *daemon) serve() error {
	d.cmd = exec.Command(pierBin, "serve")
	d.cmd.Args = append(d.cmd.Args, d.runtimeFlags()...)
	d.cmd.Args = append(d.cmd.Args, "--ssh", d.addr(d.sshPort), "--socket", d.socket, "--admin", "")
	d.cmd.Args = append(d.cmd.Args, d.flags...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if d.cgroup != "" {
		runtimetest.InCgroup(d.cmd, d.cgroup)
	}
	var err error
	if d.exited, err = runtimetest.SpawnIn(d.cmd, d.netns); err != nil {
		d.cmd = nil
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(d.socket); err == nil {
			if c, err := net.Dial("tcp", d.addr(d.httpPort)); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case err := <-d.exited:
			d.cmd = nil
			return fmt.Errorf("pier serve exited (%v):\n%s", err, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pier serve did not come up:\n%s", d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

// pier runs a host CLI command against the daemon.
func (d *daemon) pier(stdin io.Reader, args ...string) (string, int) {
	cmd := exec.Command(pierBin, args...)
	cmd.Env = append(os.Environ(), "PIER_SOCKET="+d.socket)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		d.t.Fatalf("pier %v: %v", args, err)
	}
	return string(out), 0
}

// push pushes the repository in dir to app with the given key, returning the
// combined output and whether git succeeded.
func (d *daemon) push(dir, app, key string) (string, bool) {
	out, err := d.pushCmd(dir, app, key).CombinedOutput()
	return string(out), err == nil
}

// pushCmd is the git push of dir's HEAD to app, as key.
func (d *daemon) pushCmd(dir, app, key string) *exec.Cmd {
	cmd := exec.Command("git", "push", fmt.Sprintf("ssh://pier@%s/%s", d.addr(d.sshPort), app), "HEAD:refs/heads/main")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND="+fmt.Sprintf(
		"ssh -i %s -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR", key))
	return cmd
}

// get fetches path from app through the router.
func (d *daemon) get(app, path string) (int, string, error) {
	return d.getHost(app+".localhost", path)
}

// getHost fetches path from the router with the given Host.
func (d *daemon) getHost(host, path string) (int, string, error) {
	req, _ := http.NewRequest("GET", "http://"+d.addr(d.httpPort)+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (d *daemon) mustGet(app string) string {
	d.t.Helper()
	code, body, err := d.get(app, "/")
	if err != nil || code != 200 {
		d.t.Fatalf("GET %s: %d %q %v", app, code, body, err)
	}
	return body
}

// gitRepo writes files into a new git repository and commits them.
func gitRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	sh(t, dir, nil, "git", "init", "-q", "-b", "main")
	commit(t, dir, files)
	return dir
}

func commit(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sh(t, dir, nil, "git", "add", "-A")
	sh(t, dir, nil, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "change")
}

func sh(t testing.TB, dir string, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Apps used by the tests and the benchmark.
func nodeApp(greeting string) map[string]string {
	return map[string]string{
		"package.json": `{"name":"hello","version":"1.0.0","main":"server.js",
  "scripts":{"start":"node server.js"},"dependencies":{"ms":"2.1.3"}}`,
		"server.js": `const http = require('http'); const ms = require('ms');
http.createServer((req, res) => res.end('` + greeting + ` ' + ms(60000))).listen(process.env.PORT);`,
	}
}

// wheel is a minimal pure-Python wheel of a package "hellodep", so the
// Python build installs a real dependency without a package index.
func wheel() string {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, f := range [][2]string{
		{"hellodep/__init__.py", "WORD = 'wheel'\n"},
		{"hellodep-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: hellodep\nVersion: 1.0\n"},
		{"hellodep-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: pier-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{"hellodep-1.0.dist-info/RECORD", "hellodep/__init__.py,,\nhellodep-1.0.dist-info/METADATA,,\nhellodep-1.0.dist-info/WHEEL,,\nhellodep-1.0.dist-info/RECORD,,\n"},
	} {
		w, _ := z.Create(f[0])
		w.Write([]byte(f[1]))
	}
	z.Close()
	return b.String()
}

func pythonApp(greeting string) map[string]string {
	return map[string]string{
		"Procfile":                             "web: python3 app.py\n",
		"requirements.txt":                     "--no-index\n./wheels/hellodep-1.0-py3-none-any.whl\n",
		"wheels/hellodep-1.0-py3-none-any.whl": wheel(),
		"app.py": `import http.server, os
import hellodep  # installed from requirements.txt into the virtualenv
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"` + greeting + `"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

// The day-one path: push a Node app with an npm dependency and a Python app,
// see them answer through the router, push a change, and see pushes that must
// fail fail without touching what runs.
func TestPushDeploys(t *testing.T) {
	d := startDaemon(t)

	node := gitRepo(t, nodeApp("node v1"))
	out, ok := d.push(node, "hello", d.key)
	t.Logf("first push:\n%s", out)
	if !ok {
		t.Fatalf("push hello failed:\n%s", out)
	}
	for _, want := range []string{"Building hello (node)", "Installing dependencies", "Released v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q", want)
		}
	}
	if got := d.mustGet("hello"); got != "node v1 1m" {
		t.Fatalf("got %q, want %q", got, "node v1 1m")
	}

	py := gitRepo(t, pythonApp("python v1"))
	if out, ok = d.push(py, "py", d.key); !ok {
		t.Fatalf("push py failed:\n%s", out)
	}
	if got := d.mustGet("py"); got != "python v1" {
		t.Fatalf("got %q, want %q", got, "python v1")
	}
	if !strings.Contains(out, "Building py (python)") || !strings.Contains(out, "pip install") {
		t.Errorf("python push output:\n%s", out)
	}

	t.Run("code change replaces the running version", func(t *testing.T) {
		commit(t, node, map[string]string{"server.js": strings.Replace(nodeApp("node v2")["server.js"], "node v1", "node v2", 1)})
		out, ok := d.push(node, "hello", d.key)
		if !ok {
			t.Fatalf("second push failed:\n%s", out)
		}
		if !strings.Contains(out, "Dependencies unchanged") {
			t.Errorf("redeploy reinstalled unchanged dependencies:\n%s", out)
		}
		if got := d.mustGet("hello"); got != "node v2 1m" {
			t.Fatalf("got %q, want %q", got, "node v2 1m")
		}
	})

	t.Run("unknown key is refused", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "stranger")
		sh(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other)
		out, ok := d.push(node, "hello", other)
		if ok || !strings.Contains(out, "not registered") {
			t.Fatalf("push with an unknown key: ok=%v, output:\n%s", ok, out)
		}
	})

	t.Run("invalid app name is refused", func(t *testing.T) {
		for _, name := range []string{"Hello", "a_b", "../etc", "-x"} {
			out, ok := d.push(node, name, d.key)
			if ok || !strings.Contains(out, "invalid") && !strings.Contains(out, "name") {
				t.Errorf("push to %q: ok=%v, output:\n%s", name, ok, out)
			}
		}
	})

	t.Run("failed build rejects the push and the old version keeps answering", func(t *testing.T) {
		before := strings.TrimSpace(sh(t, node, nil, "git", "rev-parse", "HEAD"))
		commit(t, node, map[string]string{"package.json": `{"name":"hello","version":"1.0.1",
  "scripts":{"start":"node server.js"},"dependencies":{"pier-test-no-such-package-2f9a":"1.0.0"}}`})
		out, ok := d.push(node, "hello", d.key)
		if ok {
			t.Fatalf("push of a failing build succeeded:\n%s", out)
		}
		if !strings.Contains(out, "build failed") || !strings.Contains(out, "404") {
			t.Errorf("push output does not show the build error:\n%s", out)
		}
		if got := d.mustGet("hello"); got != "node v2 1m" {
			t.Fatalf("after failed build got %q, want %q", got, "node v2 1m")
		}
		remote := sh(t, node, nil, "git", "--git-dir", filepath.Join(d.data, "git", "hello.git"), "rev-parse", "refs/heads/main")
		if strings.TrimSpace(remote) != before {
			t.Fatalf("ref moved to %s after a rejected push, want %s", remote, before)
		}
	})

	t.Run("a release that crashes on start is rejected and the old one keeps answering", func(t *testing.T) {
		commit(t, py, map[string]string{"Procfile": "web: python3 -c 'import sys; print(\"cannot open database\"); sys.exit(3)'\n"})
		start := time.Now()
		out, ok := d.push(py, "py", d.key)
		if ok {
			t.Fatalf("push of a crashing release succeeded:\n%s", out)
		}
		if !strings.Contains(out, "exited") || !strings.Contains(out, "cannot open database") {
			t.Errorf("push output does not say the process exited and why:\n%s", out)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("rejecting a crashing release took %s; the exit should be noticed at once", took)
		}
		if got := d.mustGet("py"); got != "python v1" {
			t.Fatalf("after a crashing release got %q, want %q", got, "python v1")
		}
	})

	t.Run("a restarted daemon serves the same apps", func(t *testing.T) {
		d.stop()
		d.start()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, _ := d.get("hello", "/")
			if code == 200 && body == "node v2 1m" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after restart hello answers %d %q", code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := d.mustGet("py"); got != "python v1" {
			t.Fatalf("after restart py answers %q", got)
		}
	})

	t.Run("a killed app process is replaced", func(t *testing.T) {
		list, err := d.rt.Instances(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			if in.App == "py" {
				d.env.Kill(t, in.ID)
			}
		}
		start := time.Now()
		for {
			if code, body, _ := d.get("py", "/"); code == 200 && body == "python v1" {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatal("py did not come back after its process was killed")
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("py answered again %s after its process was killed", time.Since(start).Round(time.Millisecond))
	})

	t.Run("unknown host gets a plain 404", func(t *testing.T) {
		code, body, err := d.get("nothing-here", "/")
		if err != nil || code != 404 || strings.Contains(body, "hello") {
			t.Fatalf("got %d %q %v", code, body, err)
		}
	})

	ctx := context.Background()
	list, err := d.rt.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // retired instances drain, then stop
	if list, _ = d.rt.Instances(ctx); len(list) != 2 {
		t.Errorf("instances running: %d, want 2 (one per app): %+v", len(list), list)
	}
}

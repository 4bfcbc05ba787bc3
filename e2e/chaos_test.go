package e2e

// Faults (issue 13): pier killed with SIGKILL at seeded random points of
// its operations, containerd restarted under running apps, a simulated host
// reboot. After each, the store answers, an app serves the release it had
// or the one it was getting (never neither), the next push works and
// nothing is left behind in containerd or on disk.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"

	"pier/runtime/runtimetest"
)

// chaosSeedEnv names the variable that sets the seed of the kill points;
// a failed trial prints it with the operation and the delay.
const chaosSeedEnv = "PIER_CHAOS_SEED"

// chaosApp is a small Python app (no dependencies: a quick build) whose
// body tells its code version and its GREETING, with a cron entry that
// runs a second.
func chaosApp(version int) map[string]string {
	return map[string]string{
		"Procfile": "web: python3 app.py\n",
		"app.json": `{"cron": [{"id": "job", "schedule": "@yearly", "command": "sleep 1; echo job done"}]}`,
		"app.py": `import http.server, os
BODY = ("v` + strconv.Itoa(version) + ` " + os.environ.get("GREETING", "-")).encode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(BODY))); self.end_headers()
        self.wfile.write(BODY)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

// chaos is the state the trials share: one daemon, one app that moves
// between two names, the body each release serves.
type chaos struct {
	t       *testing.T
	d       *daemon
	repo    string
	name    string         // the app's name now
	names   [2]string      // the names a rename moves it between
	version int            // the last code version committed
	config  int            // the last GREETING set
	bodies  map[int]string // release version → the body it serves
}

// release is a row of `releases --format json`.
type release struct {
	Version int  `json:"version"`
	Current bool `json:"current"`
}

func (c *chaos) releases() ([]release, error) {
	out, code := c.d.pier(nil, "releases", c.name, "--format", "json")
	if code != 0 {
		return nil, fmt.Errorf("releases %s: exit %d: %s", c.name, code, out)
	}
	var rs []release
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		return nil, fmt.Errorf("releases %s: %v: %s", c.name, err, out)
	}
	return rs, nil
}

func (c *chaos) current() (int, error) {
	rs, err := c.releases()
	if err != nil {
		return 0, err
	}
	for _, r := range rs {
		if r.Current {
			return r.Version, nil
		}
	}
	return 0, fmt.Errorf("%s has no current release among %+v", c.name, rs)
}

// apps lists the apps the store holds.
func (c *chaos) apps() ([]string, error) {
	out, code := c.d.pier(nil, "apps:list", "--format", "json")
	if code != 0 {
		return nil, fmt.Errorf("apps: exit %d: %s", code, out)
	}
	var list []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("apps: %v: %s", err, out)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
	}
	return names, nil
}

// serving waits until the app answers 200 at one of names with one of
// bodies and returns the name and body.
func (c *chaos) serving(names, bodies []string, within time.Duration) (string, string, error) {
	deadline := time.Now().Add(within)
	var last string
	for {
		for _, n := range names {
			code, body, err := c.d.get(n, "/")
			if err == nil && code == 200 && slices.Contains(bodies, body) {
				return n, body, nil
			}
			last = fmt.Sprintf("%s: %d %q %v", n, code, body, err)
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("no answer with one of %q within %s (last: %s)", bodies, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// push commits the next code version and pushes it.
func (c *chaos) push() error {
	c.version++
	commit(c.t, c.repo, chaosApp(c.version))
	if out, ok := c.d.push(c.repo, c.name, c.d.key); !ok {
		return fmt.Errorf("push v%d to %s failed:\n%s", c.version, c.name, out)
	}
	return c.record()
}

// record notes the body the current release serves, once only its
// instances run, and the GREETING it has.
func (c *chaos) record() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := c.current()
		if err != nil {
			return err
		}
		list, err := c.d.rt.AppInstances(context.Background(), c.name)
		if err != nil {
			return err
		}
		settled := len(list) > 0
		for _, in := range list {
			settled = settled && in.Release == v
		}
		if settled {
			code, body, err := c.d.get(c.name, "/")
			if err != nil || code != 200 {
				return fmt.Errorf("release v%d of %s: %d %q %v", v, c.name, code, body, err)
			}
			if known, ok := c.bodies[v]; ok && known != body {
				return fmt.Errorf("release v%d of %s served %q and now %q", v, c.name, known, body)
			}
			c.bodies[v] = body
			c.config = 0
			fmt.Sscanf(body[strings.LastIndex(body, " ")+1:], "g%d", &c.config)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instances of %s other than its release v%d's still run after 60s: %+v", c.name, v, list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *chaos) body(version, config int) string {
	g := "-"
	if config > 0 {
		g = "g" + strconv.Itoa(config)
	}
	return fmt.Sprintf("v%d %s", version, g)
}

// op is an operation a trial kills pier in: start begins it and returns
// what to wait for and the bodies the app may serve afterwards (the old
// and the new) at the names it may have (the old and the new).
type op struct {
	name     string
	maxDelay time.Duration
	start    func(c *chaos) (wait func(), bodies, names []string)
}

// pierCmd starts a host CLI command against the daemon.
func (c *chaos) pierCmd(args ...string) func() {
	cmd := exec.Command(pierBin, args...)
	cmd.Env = append(os.Environ(), "PIER_SOCKET="+c.d.socket)
	return c.run(cmd)
}

// run starts cmd and returns a wait that ends it within a bound.
func (c *chaos) run(cmd *exec.Cmd) func() {
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	return func() {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

func (c *chaos) currentBody() []string {
	v, err := c.current()
	if err != nil {
		c.t.Fatal(err)
	}
	if _, ok := c.bodies[v]; !ok {
		if err := c.record(); err != nil {
			c.t.Fatal(err)
		}
	}
	return []string{c.bodies[v]}
}

var chaosOps = []op{
	{"push", 6 * time.Second, func(c *chaos) (func(), []string, []string) {
		old := c.currentBody()
		c.version++
		commit(c.t, c.repo, chaosApp(c.version))
		return c.run(c.d.pushCmd(c.repo, c.name, c.d.key)), append(old, c.body(c.version, c.config)), []string{c.name}
	}},
	{"config:set", 3 * time.Second, func(c *chaos) (func(), []string, []string) {
		old := c.currentBody()
		c.config++
		return c.pierCmd("config:set", c.name, "GREETING=g"+strconv.Itoa(c.config)), append(old, c.body(c.version, c.config)), []string{c.name}
	}},
	{"releases:rollback", 3 * time.Second, func(c *chaos) (func(), []string, []string) {
		old := c.currentBody()
		v, _ := c.current()
		target := v - 1
		for target > 0 && c.bodies[target] == "" {
			target--
		}
		if target == 0 {
			c.t.Fatalf("%s has no earlier release to roll back to", c.name)
		}
		return c.pierCmd("releases:rollback", c.name, "v"+strconv.Itoa(target)), append(old, c.bodies[target]), []string{c.name}
	}},
	{"apps:rename", 3 * time.Second, func(c *chaos) (func(), []string, []string) {
		to := c.names[0]
		if c.name == to {
			to = c.names[1]
		}
		return c.pierCmd("apps:rename", c.name, to), c.currentBody(), []string{c.name, to}
	}},
	{"cron:run", 3 * time.Second, func(c *chaos) (func(), []string, []string) {
		return c.pierCmd("cron:run", c.name, "job"), c.currentBody(), []string{c.name}
	}},
	{"wake", 2 * time.Second, func(c *chaos) (func(), []string, []string) {
		c.d.mustPier("sleep:now", c.name, "--stop")
		bodies := c.currentBody()
		done := make(chan struct{})
		go func() { c.d.get(c.name, "/"); close(done) }()
		return func() {
			select {
			case <-done:
			case <-time.After(60 * time.Second):
			}
		}, bodies, []string{c.name}
	}},
}

// kill ends pier with SIGKILL, as a crash or the OOM killer would.
func (d *daemon) kill() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Kill()
	<-d.exited
	d.cmd = nil
}

// leftovers reports what containerd and the data dir hold beyond the app's
// wanted instances: containers, tasks, network namespaces, temp files.
func (c *chaos) leftovers(want int) error {
	ctx := context.Background()
	client, err := containerd.New(c.d.env.Address, containerd.WithDefaultNamespace(c.d.env.Namespace()))
	if err != nil {
		return err
	}
	defer client.Close()
	list, err := client.Containers(ctx)
	if err != nil {
		return err
	}
	var extra []string
	instances := 0
	for _, ctr := range list {
		labels, err := ctr.Labels(ctx)
		if err != nil {
			return err
		}
		task, terr := ctr.Task(ctx, nil)
		if labels["pier.kind"] == "instance" && labels["pier.app"] == c.name && terr == nil {
			if st, err := task.Status(ctx); err == nil && st.Status == containerd.Running {
				instances++
				continue
			}
		}
		extra = append(extra, fmt.Sprintf("container %s %v (task: %v)", ctr.ID(), labels, terr))
	}
	if instances > want {
		extra = append(extra, fmt.Sprintf("%d running instances of %s, want %d", instances, c.name, want))
	}
	netns, _ := os.ReadDir(filepath.Join(c.d.data, "runtime", "netns"))
	if len(netns) > instances {
		extra = append(extra, fmt.Sprintf("%d network namespaces under the data dir for %d instances", len(netns), instances))
	}
	tmp, _ := os.ReadDir(filepath.Join(c.d.data, "runtime", "tmp"))
	for _, e := range tmp {
		extra = append(extra, "temp "+filepath.Join("runtime", "tmp", e.Name()))
	}
	filepath.WalkDir(c.d.data, func(p string, e os.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".snapshot-") || strings.HasPrefix(e.Name(), ".restore-")) {
			extra = append(extra, "temp "+p)
		}
		return nil
	})
	if len(extra) > 0 {
		return fmt.Errorf("left behind:\n  %s", strings.Join(extra, "\n  "))
	}
	return nil
}

// clean waits until nothing is left behind beyond want instances.
func (c *chaos) clean(want int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := c.leftovers(want)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// trial runs one operation, kills pier after delay, restarts it and
// checks what the file's comment says.
func (c *chaos) trial(o op, delay time.Duration) error {
	wait, bodies, names := o.start(c)
	time.Sleep(delay)
	c.d.kill()
	wait()
	c.d.start()

	// (a) The store answers and the app's current release exists.
	apps, err := c.apps()
	if err != nil {
		return err
	}
	var found []string
	for _, n := range c.names {
		if slices.Contains(apps, n) {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("apps holds %q of %q: want exactly one (rename not atomic)", found, c.names)
	}
	c.name = found[0]
	if _, err := c.current(); err != nil {
		return err
	}
	if out, code := c.d.pier(nil, "ps:report", c.name, "--format", "json"); code != 0 {
		return fmt.Errorf("ps:report %s: exit %d: %s", c.name, code, out)
	}
	// (b) The old or the new release serves, at the name the store has.
	if !slices.Contains(names, c.name) {
		return fmt.Errorf("the app is %s, want one of %q", c.name, names)
	}
	if _, _, err := c.serving([]string{c.name}, bodies, 60*time.Second); err != nil {
		return err
	}
	if err := c.record(); err != nil {
		return err
	}
	// (c) The next push works and serves.
	if err := c.push(); err != nil {
		return err
	}
	// (d) Nothing left behind.
	return c.clean(1, 30*time.Second)
}

func chaosSeed(t *testing.T) int64 {
	seed := int64(13)
	if s := os.Getenv(chaosSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: want an integer", chaosSeedEnv, s)
		}
	}
	t.Logf("chaos seed %d (%s=%d reproduces this run)", seed, chaosSeedEnv, seed)
	return seed
}

func TestChaos(t *testing.T) {
	d := startDaemon(t)
	c := &chaos{t: t, d: d, repo: gitRepo(t, chaosApp(1)), names: [2]string{"chaos", "chaos-renamed"}, version: 1, bodies: map[int]string{}}
	c.name = c.names[0]
	if out, ok := d.push(c.repo, c.name, d.key); !ok {
		t.Fatalf("push:\n%s", out)
	}
	d.mustPier("sleep:set", c.name, "after=1h")
	if err := c.record(); err != nil {
		t.Fatal(err)
	}
	if err := c.push(); err != nil { // a release to roll back to
		t.Fatal(err)
	}

	t.Run("SIGKILL at random points", func(t *testing.T) {
		seed := chaosSeed(t)
		rng := rand.New(rand.NewSource(seed))
		trials := 54
		if s := os.Getenv("PIER_CHAOS_TRIALS"); s != "" {
			trials, _ = strconv.Atoi(s)
		}
		for i := 0; i < trials; i++ {
			o := chaosOps[i%len(chaosOps)]
			delay := time.Duration(rng.Int63n(int64(o.maxDelay)))
			start := time.Now()
			err := c.trial(o, delay)
			t.Logf("trial %d: %s, kill after %s: %s", i, o.name, delay.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			if err != nil {
				t.Fatalf("trial %d (seed %d): %s killed after %s: %v", i, seed, o.name, delay, err)
			}
		}
	})

	t.Run("containerd restarted under a running app", func(t *testing.T) {
		body := c.currentBody()
		d.env.Restart(t)
		if _, _, err := c.serving([]string{c.name}, body, 60*time.Second); err != nil {
			t.Fatalf("after containerd restarted: %v", err)
		}
		if err := c.push(); err != nil {
			t.Fatal(err)
		}
		if err := c.clean(1, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("host reboot", func(t *testing.T) {
		const worker, sleepy = "chaos-worker", "chaos-sleepy"
		for _, name := range []string{worker, sleepy} {
			if out, ok := d.push(c.repo, name, d.key); !ok {
				t.Fatalf("push %s:\n%s", name, out)
			}
		}
		d.mustPier("ps:scale", worker, "web=0")
		d.mustPier("sleep:set", sleepy, "after=1h")
		d.mustPier("sleep:now", sleepy, "--stop")
		d.waitState(sleepy, "stopped", 20*time.Second)
		body := c.currentBody()

		d.stop()
		d.env.Reboot(t)
		// A reboot empties /run: pier's network namespaces are mounts
		// there on a host, under its data dir here.
		netns := filepath.Join(d.data, "runtime", "netns")
		runtimetest.UnmountUnder(netns)
		os.RemoveAll(netns)
		// The tree of a push the reboot cut short.
		unpacked := filepath.Join(d.data, "runtime", "tmp", "pier-"+c.name+"-cut")
		if err := os.MkdirAll(filepath.Join(unpacked, "src"), 0o700); err != nil {
			t.Fatal(err)
		}
		d.start()
		if _, err := os.Stat(unpacked); !os.IsNotExist(err) {
			t.Errorf("the tree of a push cut short by the reboot is still there (%v)", err)
		}

		if _, _, err := c.serving([]string{c.name}, body, 60*time.Second); err != nil {
			t.Fatalf("after the reboot: %v", err)
		}
		time.Sleep(2 * time.Second) // reconciling would have started them by now
		if n := d.webInstances(worker); n != 0 {
			t.Errorf("%s scaled to 0 runs %d web instances after the reboot", worker, n)
		}
		if s := d.state(sleepy); s != "stopped" {
			t.Errorf("%s is %s after the reboot, want stopped", sleepy, s)
		}
		if got := d.body(sleepy, "/"); !strings.HasPrefix(got, "v") {
			t.Errorf("%s woke with %q", sleepy, got)
		}
		if err := c.push(); err != nil {
			t.Fatal(err)
		}
	})
}

// startDaemonOn is startDaemon with pier's data dir on a tmpfs of size
// bytes, unmounted at cleanup, and flags.
func startDaemonOn(t *testing.T, size int64, flags ...string) *daemon {
	t.Helper()
	runtimetest.Require(t, "git", "ssh", "ssh-keygen", "sqlite3")
	env := runtimetest.Start(t)
	d := newDaemon(t, env, "127.0.0.1", freePort(t), freePort(t), flags)
	if err := os.MkdirAll(d.data, 0o700); err != nil {
		t.Fatal(err)
	}
	sh(t, "", nil, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "pier-chaos", d.data)
	t.Cleanup(func() { syscall.Unmount(d.data, syscall.MNT_DETACH) })
	d.freshPorts = true
	d.rt = env.Runtime(t, filepath.Join(d.data, "runtime"))
	d.launch()
	return d
}

// free is what the filesystem of d's data dir has free, in bytes.
func (d *daemon) free() int64 {
	d.t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.data, &st); err != nil {
		d.t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill writes a file under d's data dir until that filesystem has leave
// bytes free, and returns its path.
func (d *daemon) fill(name string, leave int64) string {
	d.t.Helper()
	path := filepath.Join(d.data, name)
	f, err := os.Create(path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n := d.free() - leave; n > 0; n -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), n)]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			d.t.Fatal(err)
		}
	}
	return path
}

// intact checks that pier's store answers and, once pier is stopped,
// that its database passes SQLite's integrity check; pier starts again.
func (d *daemon) intact(apps ...string) {
	d.t.Helper()
	for _, a := range apps {
		d.mustPier("releases", a)
		d.mustPier("ps:report", a)
	}
	d.mustPier("apps:list")
	d.stop()
	out, err := exec.Command("sqlite3", filepath.Join(d.data, "pier.db"), "PRAGMA integrity_check").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		d.t.Errorf("integrity check of pier.db: %v: %s", err, out)
	}
	d.start()
}

// chattyApp serves "v<version>" and prints a line of about 200 bytes
// for every request.
func chattyApp(version int) map[string]string {
	return map[string]string{
		"Procfile": "web: python3 app.py\n",
		"app.py": `import http.server, os, sys
BODY = b"v` + strconv.Itoa(version) + `"
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        print("served", self.path, "x" * 180, flush=True)
        self.send_response(200); self.send_header("Content-Length", str(len(BODY))); self.end_headers()
        self.wfile.write(BODY)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

// serves checks that app answers want to n requests in a row.
func (d *daemon) serves(app string, n int, want string) {
	d.t.Helper()
	client := &http.Client{Timeout: 10 * time.Second} // an app held up by its output never answers
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("GET", "http://"+d.addr(d.httpPort)+"/", nil)
		req.Host = app + ".localhost"
		var body []byte
		resp, err := client.Do(req)
		code := 0
		if err == nil {
			code = resp.StatusCode
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err != nil || code != 200 || string(body) != want {
			d.t.Fatalf("request %d of %d: %d %q %v, want %q", i+1, n, code, body, err, want)
		}
	}
}

// A full disk under a build, a log burst or anything else: the push
// fails and says why, the running release keeps serving, its output is
// not held up, pier stays in charge and its database intact.
func TestChaosDiskFull(t *testing.T) {
	const reserve = 16 << 20
	d := startDaemonOn(t, 160<<20, "--disk-reserve", "16")
	repo := gitRepo(t, chattyApp(1))
	if out, ok := d.push(repo, "chaos", d.key); !ok {
		t.Fatalf("push:\n%s", out)
	}
	d.serves("chaos", 3, "v1")

	t.Run("during a build", func(t *testing.T) {
		full := gitRepo(t, map[string]string{
			"package.json": `{"name":"full","version":"1.0.0","main":"server.js",
  "scripts":{"start":"node server.js","build":"dd if=/dev/zero of=/cache/fill bs=1M"}}`,
			"server.js": `require('http').createServer((q, s) => s.end('full')).listen(process.env.PORT);`,
		})
		out, ok := d.push(full, "full", d.key)
		if ok {
			t.Fatalf("a build that filled the disk was deployed:\n%s", out)
		}
		t.Logf("the push:\n%s", out)
		if !strings.Contains(out, "No space left on device") || !strings.Contains(out, "emptied") {
			t.Errorf("the push does not say the disk is full and its cache was emptied:\n%s", out)
		}
		if free := d.free(); free < 2*reserve {
			t.Errorf("after the failed build, %d MiB free: the build's writes were not given back", free>>20)
		}
		d.serves("chaos", 3, "v1")
		d.intact("chaos")
		d.serves("chaos", 3, "v1")
	})

	t.Run("during a log burst", func(t *testing.T) {
		files := chattyApp(2)
		files["Procfile"] += "noisy: yes 'a line of log output that fills the disk'\n"
		commit(t, repo, files)
		if out, ok := d.push(repo, "chaos", d.key); !ok {
			t.Fatalf("push:\n%s", out)
		}
		// Less room than app.log may take before it rotates (8 MiB).
		filler := d.fill("filler", reserve+(4<<20))
		defer os.Remove(filler)
		d.mustPier("ps:scale", "chaos", "noisy=1")
		// The burst takes the disk down to the reserve, no further.
		deadline := time.Now().Add(30 * time.Second)
		for d.free() > reserve+(1<<20) {
			if time.Now().After(deadline) {
				t.Fatalf("the log burst left %d MiB free after 30s, want it down to the reserve", d.free()>>20)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		if free := d.free(); free < reserve-(4<<20) {
			t.Errorf("the log burst left %d MiB free, past the %d MiB reserve", free>>20, reserve>>20)
		}
		d.serves("chaos", 1000, "v2")
		d.mustPier("ps:scale", "chaos", "noisy=0")
		d.intact("chaos")
	})

	t.Run("filled by something else", func(t *testing.T) {
		filler := d.fill("filler", 0)
		// Every request prints a line: 1000 of them are three times what
		// the pipes between the app and pier hold.
		d.serves("chaos", 1000, "v2")
		out, code := d.pier(nil, "config:set", "chaos", "A=1")
		t.Logf("config:set on a full disk:\n%s", out)
		if code == 0 || !strings.Contains(out, "is full") || !strings.Contains(out, "free space on it") {
			t.Errorf("config:set on a full disk: exit %d\n%s", code, out)
		}
		os.Remove(filler)
		d.serves("chaos", 1000, "v2")
		deadline := time.Now().Add(10 * time.Second)
		for {
			logs := d.mustPier("logs", "chaos", "-n", "2000")
			if strings.Contains(logs, "output dropped") && strings.Contains(logs, "served /") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no dropped-output line, or no request lines, after the disk had room:\n%s", tail(logs, 20))
			}
			time.Sleep(200 * time.Millisecond)
		}
		d.intact("chaos")
		commit(t, repo, chattyApp(3))
		if out, ok := d.push(repo, "chaos", d.key); !ok {
			t.Fatalf("push once there is room again:\n%s", out)
		}
		d.serves("chaos", 3, "v3")
	})
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

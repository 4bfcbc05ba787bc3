// Package runtimetest starts a private containerd for tests, with its own
// root, state and socket under a temporary directory, a network of its own
// (bridge and subnet no other pier uses) and pier's base image imported from
// the cache. Everything it creates is removed at cleanup, also after a failed
// test: tasks, network namespaces, the bridge, iptables rules, mounts, cgroups.
package runtimetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/snapshots"

	"pier/builder"
	"pier/runtime"
	"pier/scripts"
)

// CacheDir holds the base image tarball between test runs.
const CacheDir = "/var/cache/pier"

// Env is a running private containerd.
type Env struct {
	Dir     string // everything lives under here
	Address string // containerd socket
	Network runtime.NetworkConfig
	// Netns is the network namespace (a path) containerd runs in, and
	// with it the shims and the Network's bridge and rules; "" for the
	// test's own (Options.Netns).
	Netns  string
	cgroup string // Options.Cgroup: containerd starts there, each time
	cmd    *exec.Cmd
	exited <-chan error
}

// Spawn starts cmd so that it is killed if the test process dies
// (Pdeathsig), from a goroutine that keeps its OS thread until cmd exits:
// Pdeathsig fires when the forking thread ends, and Go ends threads (a
// goroutine that exits locked, as netns.NewNetNS's does). The channel
// receives cmd.Wait's result.
func Spawn(cmd *exec.Cmd) (<-chan error, error) { return SpawnIn(cmd, "") }

// SpawnIn is Spawn with cmd in the network namespace at path netns (""
// for the test's own), and nothing else of the test's changed: the same
// mount namespace, so that mounts cmd makes are everyone's, unlike under
// `ip netns exec`. nsenter(1) enters netns and execs cmd, so cmd's process
// is nsenter's. (Entering netns on the forking thread is no option: Go may
// run the goroutine on the main thread, which never ends, and the test
// process would stay in netns.)
func SpawnIn(cmd *exec.Cmd, netns string) (<-chan error, error) {
	if netns != "" {
		if cmd.Err != nil {
			return nil, cmd.Err
		}
		nsenter, err := exec.LookPath("nsenter")
		if err != nil {
			return nil, err
		}
		cmd.Args = append([]string{"nsenter", "--net=" + netns, "--", cmd.Path}, cmd.Args[1:]...)
		cmd.Path = nsenter
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends with cmd
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	return exited, <-started
}

// InCgroup makes cmd start in the cgroup whose cgroup.procs file is procs:
// a shell writes its own PID there and execs cmd, so that everything cmd
// allocates from its first instruction is charged to the cgroup (cgroup
// v1 no longer moves what a process had when it moves). Call it before
// Spawn.
func InCgroup(cmd *exec.Cmd, procs string) {
	cmd.Args = append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, procs, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
}

// Require fails the test when a needed tool is missing in CI (CI set) and
// skips it elsewhere.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("missing %v: CI must run the end-to-end tests (scripts/test.sh installs them)", missing)
	}
	t.Skipf("missing %v (scripts/test.sh installs them)", missing)
}

// Start runs a private containerd and registers its cleanup.
func Start(t testing.TB) *Env { return StartWith(t, Options{}) }

// Options say where a private containerd runs. The zero value is Start's.
type Options struct {
	// Netns is the path of a network namespace containerd runs in ("" for
	// the test's own); it is where the Env's Network lives then. The
	// caller owns it: it must outlive the Env, and deleting it takes the
	// Network with it, so the cleanup leaves the Network alone and never
	// touches the test's own network namespace for it. The cleanup kills
	// the Env's containers instead (a runtime opened by the test would set
	// up the Network in the test's namespace: see Env.Runtime).
	Netns string
	// TempDir is where Env.Dir is made; default os.TempDir(). On a tmpfs
	// (/dev/shm), importing the base and removing it at cleanup take a
	// fraction of the time they take on a disk.
	TempDir string
	// Cgroup, if set, is a cgroup's cgroup.procs file containerd starts
	// in (see InCgroup), and with it its shims.
	Cgroup string
}

// StartWith runs a private containerd as opts say and registers its
// cleanup.
func StartWith(t testing.TB, opts Options) *Env {
	t.Helper()
	tools := []string{"containerd", "runc", "iptables", "ip"}
	if opts.Netns != "" {
		tools = append(tools, "nsenter")
	}
	Require(t, tools...)
	dir, err := os.MkdirTemp(opts.TempDir, "pier-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{
		Dir:     dir,
		Address: filepath.Join(dir, "containerd.sock"),
		Network: NewNetwork(),
		Netns:   opts.Netns,
		cgroup:  opts.Cgroup,
	}
	t.Cleanup(func() { e.cleanup(t) })
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), e.Address)
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	e.launch(t)
	return e
}

// launch runs containerd with the Env's config and waits until it answers.
func (e *Env) launch(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(e.Dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("containerd", "--config", filepath.Join(e.Dir, "config.toml"))
	if e.cgroup != "" {
		InCgroup(cmd, e.cgroup)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited, err := SpawnIn(cmd, e.Netns)
	if err != nil {
		t.Fatal(err)
	}
	e.cmd, e.exited = cmd, exited
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := containerd.New(e.Address, containerd.WithTimeout(time.Second))
		if err == nil {
			_, err = c.Version(context.Background())
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("containerd did not start: %v\n%s", err, tailString(string(b), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops containerd (SIGTERM, SIGKILL after 10s) and leaves its root,
// its state and the shims with their containers running, as a crash or an
// upgrade of containerd would. Restart starts it again.
func (e *Env) Stop(t testing.TB) {
	t.Helper()
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		<-e.exited
	}
	e.cmd = nil
}

// Restart starts a stopped containerd again on the same root, state and
// socket.
func (e *Env) Restart(t testing.TB) {
	t.Helper()
	e.Stop(t)
	e.launch(t)
}

// Reboot does to the Env what a host reboot does: containerd stops, every
// task's processes and every shim die, the state directory (a tmpfs under
// /run on a host) and the Network's bridge and rules are gone; the root
// stays. Then containerd starts again on it. Network namespaces pier made
// are its own to remove: see the caller.
func (e *Env) Reboot(t testing.TB) {
	t.Helper()
	e.Stop(t)
	KillCgroups(e.Namespace())
	KillUnder(e.Dir)
	state := filepath.Join(e.Dir, "state")
	UnmountUnder(state)
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	if e.Netns == "" {
		RemoveNetwork(e.Network)
	}
	RemoveCgroups(e.Namespace())
	e.launch(t)
}

// KillCgroups kills every process in the cgroups containerd made for
// namespace's containers (cgroup v2 cgroup.kill, or SIGKILL to each
// process listed).
func KillCgroups(namespace string) {
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", namespace))
	roots = append(roots, filepath.Join("/sys/fs/cgroup", namespace))
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (d.Name() != "cgroup.procs" && d.Name() != "tasks") {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				var pid int
				fmt.Sscanf(f, "%d", &pid)
				if pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// NewNetwork picks a network no other test's or pier's uses: a random name
// and bridge, and a subnet in 10.<200-249>.<x>.0/24, outside pier's default
// 10.77.0.0/16, that no interface of the host is on.
func NewNetwork() runtime.NetworkConfig {
	suffix := randomHex(3)
	var used []netip.Prefix
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	for {
		var b [2]byte
		rand.Read(b[:])
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200 + b[0]%50, b[1], 0}), 24)
		if !slices.ContainsFunc(used, subnet.Overlaps) {
			return runtime.NetworkConfig{Name: "piertest-" + suffix, Bridge: "pt" + suffix, Subnet: subnet.String()}
		}
	}
}

// PID is the containerd process's.
func (e *Env) PID() int { return e.cmd.Process.Pid }

// Namespace is the containerd namespace (and CNI network name) tests use.
func (e *Env) Namespace() string { return e.Network.Name }

// Runtime opens pier's runtime on this containerd with its data in dataDir
// ("" for a directory of its own), with the base imported. Instances left at
// cleanup are removed. It sets up the Network in the test's own network
// namespace: not for an Env started in another.
func (e *Env) Runtime(t testing.TB, dataDir string) *runtime.Containerd {
	t.Helper()
	ctx := context.Background()
	if dataDir == "" {
		dataDir = filepath.Join(e.Dir, "pier")
	}
	rt, err := runtime.Open(ctx, runtime.Config{
		Address: e.Address, Namespace: e.Namespace(), DataDir: dataDir, Network: e.Network,
	}, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.RemoveAll(context.Background()); err != nil {
			t.Logf("remove instances: %v", err)
		}
		rt.Close()
	})
	if err := ImportBase(ctx, rt); err != nil {
		t.Fatal(err)
	}
	return rt
}

// ImportBase imports the default base from the cache, building the cached
// tarball first if there is none.
func ImportBase(ctx context.Context, rt *runtime.Containerd) error {
	tarball, err := BaseTarball(ctx)
	if err != nil {
		return err
	}
	_, err = rt.ImportBase(ctx, tarball)
	return err
}

// BaseTarball returns the cached tarball of the default base in CacheDir,
// building it first if there is none (debootstrap: minutes, and the
// network). Safe to call from several test binaries at once: one builds,
// the others wait.
func BaseTarball(ctx context.Context) (string, error) {
	tarball := builder.BaseTarball(CacheDir)
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return "", err
	}
	// Test binaries of several packages run at once: one builds, the others wait.
	lock, err := os.OpenFile(filepath.Join(CacheDir, "base.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(tarball); err != nil {
		if err := builder.BuildBase(ctx, scripts.MkBase, builder.DefaultBase, tarball, os.Stderr); err != nil {
			return "", err
		}
	}
	return tarball, nil
}

// cleanup stops containerd and removes what the tests created.
func (e *Env) cleanup(t testing.TB) {
	if t.Failed() {
		if b, err := os.ReadFile(filepath.Join(e.Dir, "containerd.log")); err == nil {
			t.Logf("containerd log (end):\n%s", tailString(string(b), 4000))
		}
	}
	if e.Netns != "" && e.cmd != nil && e.cmd.Process != nil {
		if err := e.removeContainers(); err != nil {
			t.Logf("remove containers: %v", err)
		}
	}
	if e.cmd != nil && e.cmd.Process != nil {
		e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
			<-e.exited
		}
	}
	KillUnder(e.Dir)
	UnmountUnder(e.Dir)
	if e.Netns == "" {
		RemoveNetwork(e.Network)
	}
	RemoveCgroups(e.Namespace())
	if err := os.RemoveAll(e.Dir); err != nil {
		t.Logf("remove %s: %v", e.Dir, err)
	}
}

// removeContainers kills every task in the test namespace and deletes its
// containers with their snapshots, as Containerd.RemoveAll does, but with
// containerd's client alone: no runtime, so no network set up or torn down.
// Their network namespaces go with the Env's (their veths) and with
// UnmountUnder (their bind mounts under Dir).
func (e *Env) removeContainers() error {
	c, err := containerd.New(e.Address, containerd.WithDefaultNamespace(e.Namespace()), containerd.WithTimeout(5*time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ctr := range list {
		if task, err := ctr.Task(ctx, nil); err == nil {
			if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil {
				errs = append(errs, fmt.Errorf("delete task %s: %w", ctr.ID(), err))
			}
		}
		if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err != nil {
			errs = append(errs, fmt.Errorf("delete container %s: %w", ctr.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// KillUnder kills processes whose command line mentions dir: shims and
// their containers' processes that outlived their containerd.
func KillUnder(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		if pid > 1 && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// RemoveCgroups removes the cgroups containerd made for namespace's
// containers (/<namespace>/<id> in each hierarchy, cgroup v1 or v2), which
// it leaves behind empty. Those still holding a process stay.
func RemoveCgroups(namespace string) {
	RemoveCgroupTree(namespace)
}

// RemoveCgroupTree removes the cgroup at path (under each hierarchy's
// root, cgroup v1 or v2) and those below it, deepest first. Those still
// holding a process stay.
func RemoveCgroupTree(path string) {
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", path))
	roots = append(roots, filepath.Join("/sys/fs/cgroup", path))
	for _, root := range roots {
		var dirs []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			syscall.Rmdir(dirs[i])
		}
	}
}

// UnmountUnder lazily unmounts every mount below dir, deepest first.
func UnmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	f.Close()
	for i := len(points) - 1; i >= 0; i-- {
		syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

// RemoveNetwork deletes a test network's bridge and any iptables rules and
// chains the CNI bridge plugin left for it.
func RemoveNetwork(n runtime.NetworkConfig) {
	if n.Bridge != "" {
		exec.Command("ip", "link", "del", n.Bridge).Run()
		runtime.RemoveFirewall(n)
	}
	if n.Name == "" {
		return
	}
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		return
	}
	tag := fmt.Sprintf(`name: \"%s\"`, n.Name)
	chains := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, tag) {
			continue
		}
		f := strings.Fields(line)
		for i, w := range f {
			if w == "-j" && i+1 < len(f) && strings.HasPrefix(f[i+1], "CNI-") {
				chains[f[i+1]] = true
			}
		}
		args := append([]string{"-t", "nat", "-D"}, splitRule(line[3:])...)
		exec.Command("iptables", args...).Run()
	}
	for c := range chains {
		exec.Command("iptables", "-t", "nat", "-F", c).Run()
		exec.Command("iptables", "-t", "nat", "-X", c).Run()
	}
}

// splitRule splits an iptables-save rule into arguments, honouring quotes.
func splitRule(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
		case r == ' ' && !inQuote:
			if cur.Len() > 0 {
				args = append(args, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		args = append(args, cur.String())
	}
	return args
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Kill sends SIGKILL to a container's task, as a crash would.
func (e *Env) Kill(t testing.TB, id string) {
	t.Helper()
	c, err := containerd.New(e.Address, containerd.WithDefaultNamespace(e.Namespace()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	ctr, err := c.LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil {
		t.Fatal(err)
	}
}

// Snapshots counts the snapshots in the test namespace.
func (e *Env) Snapshots(t testing.TB) int {
	t.Helper()
	c, err := containerd.New(e.Address, containerd.WithDefaultNamespace(e.Namespace()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := 0
	err = c.SnapshotService("overlayfs").Walk(context.Background(), func(context.Context, snapshots.Info) error {
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Containers counts the containers in the test namespace.
func (e *Env) Containers(t testing.TB) int {
	t.Helper()
	c, err := containerd.New(e.Address, containerd.WithDefaultNamespace(e.Namespace()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	list, err := c.Containers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

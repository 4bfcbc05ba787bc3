package e2e

// Several pier nodes on one host, each a machine of its own as far as pier
// can tell: its own network namespace with one address on a test bridge,
// its own containerd and data, the standard ports. The test process is on
// the bridge too, and reaches every node at its address.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"pier/runtime/runtimetest"
)

// node is one machine of a test cluster: a `pier serve` and a containerd of
// its own, both in a network namespace of its own, whose only address
// besides loopback is the node's on the test bridge. Nodes listen on pier's
// standard ports and differ by address only. The daemon's methods reach it
// at that address (push, get, getHost, ssh) and through its unix socket
// (pier, the host CLI); its rt is nil, as a runtime opened by the test
// process would set up the node's network outside the node.
//
// The daemon's own t is the test that started the nodes: subtests use the
// methods that take theirs (startPier) or return errors.
type node struct {
	*daemon
	name string // "a", "b", ...: its network namespace is pier-t<hex>-<name>
	ip   string
}

// The ports every node listens on: pier's defaults.
const (
	nodeSSHPort   = 2222
	nodeHTTPPort  = 80
	nodeHTTPSPort = 443
)

// startNodes starts n nodes at once, with pier serve's flags plus flags and
// a key registered as "laptop" on each, on a bridge of their own in a
// subnet no other network of the host's uses. At cleanup, also after a
// failed start or a panic, it stops them all at once and leaves the host as
// it found it: no processes, mounts, network namespaces, links or iptables
// rules of theirs. It never changes the host's iptables: every rule pier and
// CNI write is in a node's namespace and goes with it.
func startNodes(t *testing.T, n int, flags ...string) []*node {
	t.Helper()
	return startNodesWith(t, n, nil, flags...)
}

// startNodesWith is startNodes with more flags from around, which is
// given the host's address on the nodes' bridge and the nodes' addresses
// before they start: for a service in the test the nodes talk to.
func startNodesWith(t *testing.T, n int, around func(host string, nodes []string) []string, flags ...string) []*node {
	t.Helper()
	runtimetest.Require(t, "git", "ssh", "ssh-keygen", "containerd", "runc", "iptables", "ip")
	start := time.Now()
	if _, err := runtimetest.BaseTarball(context.Background()); err != nil {
		t.Fatal(err)
	}
	keepNetnsDir(t)
	br := newTestBridge(t)
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("%s.%d", br.prefix, 11+i)
	}
	if around != nil {
		flags = append(slices.Clone(flags), around(br.prefix+".1", ips)...)
	}

	starters := make([]*nodeT, n)
	nodes := make([]*node, n)
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, st := range starters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st.cleanup()
			}()
		}
		wg.Wait()
	})
	var wg sync.WaitGroup
	for i := range n {
		starters[i] = &nodeT{TB: t}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := starters[i]
			defer st.recoverPanic()
			began := time.Now()
			nodes[i] = startNode(st, br, string(rune('a'+i)), ips[i], flags)
			nd := nodes[i]
			t.Logf("node %s: %s in %s, apps on %s %s, started in %s", nd.name, nd.ip, filepath.Base(nd.netns),
				nd.env.Network.Bridge, nd.env.Network.Subnet, time.Since(began).Round(time.Millisecond))
		}()
	}
	wg.Wait()
	for i, st := range starters {
		if st.skip != "" {
			t.Skip(st.skip)
		}
		if st.fatal != "" {
			t.Errorf("node %c: %s", 'a'+i, st.fatal)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, nd := range nodes {
		nd.t = t
	}
	t.Logf("%d nodes on %s (%s.0/24) started in %s", n, br.name, br.prefix, time.Since(start).Round(time.Millisecond))
	return nodes
}

// startNode starts a node called name at ip on br.
func startNode(t testing.TB, br *testBridge, name, ip string, flags []string) *node {
	t.Helper()
	ns := "pier-t" + br.hex + "-" + name
	veth := br.name + "-" + name
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { removeNetns(t, ns, veth) })
	ipCmd(t, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
	ipCmd(t, "link", "set", veth, "master", br.name, "up")
	ipCmd(t, "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
	ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")

	env := runtimetest.StartWith(t, runtimetest.Options{Netns: filepath.Join("/run/netns", ns), TempDir: nodeTempDir()})
	// Nodes share the host name: each gets its own name in a cluster.
	d := newDaemon(t, env, ip, nodeSSHPort, nodeHTTPPort, append(slices.Clone(flags), "--node-name", name))
	// As on a new machine: pier imports the base into its containerd.
	cmd := exec.Command(pierBin, append([]string{"base", "build"}, d.runtimeFlags()...)...)
	if out, err := runIn(d.netns, cmd); err != nil {
		t.Fatalf("pier base build: %v\n%s", err, out)
	}
	d.launch()
	return &node{daemon: d, name: name, ip: ip}
}

// nodeTempDir is where nodes keep their containerd and data: in memory if
// the host has a tmpfs at /dev/shm, where three nodes import the base at
// once in a third of the time they take on a disk.
func nodeTempDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// startPier starts the node's pier again after stop.
func (n *node) startPier(t testing.TB) {
	t.Helper()
	if err := n.serve(); err != nil {
		t.Fatalf("node %s: %v", n.name, err)
	}
}

// run runs a command in the node's network namespace (and nowhere else of
// its: the test's mounts and processes) and returns its combined output.
func (n *node) run(name string, args ...string) (string, error) {
	return runIn(n.netns, exec.Command(name, args...))
}

// runIn runs cmd in the network namespace at path netns and returns its
// combined output.
func runIn(netns string, cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	exited, err := runtimetest.SpawnIn(cmd, netns)
	if err != nil {
		return "", err
	}
	err = <-exited
	return out.String(), err
}

// testBridge is the host's side of a test cluster: a bridge with the
// address prefix.1 in prefix.0/24, to which every node's veth is attached.
type testBridge struct {
	name   string // pt<hex>
	hex    string // also in the names of the nodes' network namespaces
	prefix string // 10.251.<x>
}

// newTestBridge creates a bridge in a subnet 10.251.<x>.0/24 that overlaps
// none of the host's addresses and routes (another test's bridge included),
// outside runtimetest's app networks (10.200-249) and pier's default
// (10.77/16), and deletes it at cleanup. The host needs no iptables rule for
// it: nodes and the test talk on the bridge only, and nodes have no route
// beyond it.
func newTestBridge(t testing.TB) *testBridge {
	t.Helper()
	for range 20 {
		b := make([]byte, 4)
		rand.Read(b)
		br := &testBridge{hex: fmt.Sprintf("%x", b[:3]), prefix: fmt.Sprintf("10.251.%d", b[3])}
		br.name = "pt" + br.hex
		if inUse, err := subnetInUse(br.prefix + ".0/24"); err != nil {
			t.Fatal(err)
		} else if inUse {
			continue
		}
		if err := exec.Command("ip", "link", "add", br.name, "type", "bridge").Run(); err != nil {
			continue // the name is taken
		}
		t.Cleanup(func() { exec.Command("ip", "link", "del", br.name).Run() })
		ipCmd(t, "addr", "add", br.prefix+".1/24", "dev", br.name)
		ipCmd(t, "link", "set", br.name, "up")
		return br
	}
	t.Fatal("no free test subnet in 10.251.0.0/16")
	return nil
}

// subnetInUse reports whether cidr overlaps an address or a route (other
// than a default route) of the host.
func subnetInUse(cidr string) (bool, error) {
	_, want, _ := net.ParseCIDR(cidr)
	overlaps := func(n *net.IPNet) bool { return n != nil && (n.Contains(want.IP) || want.Contains(n.IP)) }
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if overlaps(a.IPNet) {
			return true, nil
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: syscall.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return false, err
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.IP.IsUnspecified() {
			continue // a default route
		}
		if overlaps(r.Dst) {
			return true, nil
		}
	}
	return false, nil
}

// removeNetns kills what is left in the network namespace ns, deletes veth
// (its host side) and ns. Whatever ran in ns (pier, containerd, shims, a
// command of run's) is killed first: the namespace, and the app networks in
// it, go away with its last process.
func removeNetns(t testing.TB, ns, veth string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for i, p := range pids {
				comm, _ := os.ReadFile("/proc/" + p + "/comm")
				pids[i] += " " + strings.TrimSpace(string(comm))
			}
			t.Errorf("processes still in %s: %s", ns, strings.Join(pids, ", "))
			break
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	exec.Command("ip", "link", "del", veth).Run() // gone already if ns is
	if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v %s", ns, err, out)
	}
}

// keepNetnsDir leaves /run/netns as it was: `ip netns add` makes it, and a
// mount point, the first time it runs on a machine. If there was none, it
// is removed at cleanup once empty.
func keepNetnsDir(t testing.TB) {
	if _, err := os.Stat("/run/netns"); !os.IsNotExist(err) {
		return
	}
	t.Cleanup(func() {
		if entries, err := os.ReadDir("/run/netns"); err != nil || len(entries) > 0 {
			return // another test's namespaces are there
		}
		syscall.Unmount("/run/netns", syscall.MNT_DETACH)
		os.Remove("/run/netns")
	})
}

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
	}
}

// nodeT is the testing.TB a node is started with, on a goroutine of its
// own, so that helpers written for the test's goroutine (t.Fatal ends it)
// can start nodes at once: Fatal and Skip record why and end the node's
// goroutine, for startNodes to report on the test's; Cleanup collects the
// node's cleanups, for startNodes to run those of all nodes at once. The
// rest is the test's own, safe for concurrent use.
type nodeT struct {
	testing.TB
	fatal, skip string
	mu          sync.Mutex
	cleanups    []func()
}

func (t *nodeT) Fatal(args ...any)                 { t.fatal = fmt.Sprint(args...); goruntime.Goexit() }
func (t *nodeT) Fatalf(format string, args ...any) { t.Fatal(fmt.Sprintf(format, args...)) }
func (t *nodeT) FailNow()                          { t.Fatal("FailNow") }
func (t *nodeT) Skip(args ...any)                  { t.skip = fmt.Sprint(args...); goruntime.Goexit() }
func (t *nodeT) Skipf(format string, args ...any)  { t.Skip(fmt.Sprintf(format, args...)) }
func (t *nodeT) SkipNow()                          { t.Skip("SkipNow") }

func (t *nodeT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// cleanup runs the cleanups, last first, each to its end even if another
// panicked.
func (t *nodeT) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("cleanup panicked: %v\n%s", r, debug.Stack())
				}
			}()
			fs[i]()
		}()
	}
}

// recoverPanic turns a panic of the node's goroutine into a failure: one
// would end the test binary before any cleanup ran. Deferred first thing.
func (t *nodeT) recoverPanic() {
	if r := recover(); r != nil {
		t.fatal = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
	}
}

// Three nodes on one host: each takes a push and serves it at its own
// address, each reaches the others at theirs (what cluster traffic needs),
// and a node whose pier restarts serves again.
func TestNodesOnOneHost(t *testing.T) {
	start := time.Now()
	nodes := startNodes(t, 3)

	t.Run("each node builds and serves its own push", func(t *testing.T) {
		repos := make([]string, len(nodes))
		for i, n := range nodes {
			repos[i] = gitRepo(t, staticApp("hello from "+n.name))
		}
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				began := time.Now()
				if out, ok := n.push(repos[i], "hello", n.key); !ok {
					t.Errorf("push to node %s:\n%s", n.name, out)
					return
				}
				t.Logf("pushed to node %s in %s", n.name, time.Since(began).Round(time.Millisecond))
			}()
		}
		wg.Wait()
		for _, n := range nodes {
			want := "hello from " + n.name
			if code, body, err := n.get("hello", "/"); err != nil || code != 200 || body != want {
				t.Errorf("GET hello at %s: %d %q %v, want 200 %q", n.ip, code, body, err, want)
			}
		}
	})

	t.Run("every node reaches every other at its address", func(t *testing.T) {
		for _, from := range nodes {
			for _, to := range nodes {
				if from == to {
					continue
				}
				out, err := from.run("curl", "-sS", "-m", "5", "-H", "Host: hello.localhost", "http://"+to.ip+"/")
				if want := "hello from " + to.name; err != nil || out != want {
					t.Errorf("from node %s, GET http://%s/: %q %v, want %q", from.name, to.ip, out, err, want)
				}
			}
		}
	})

	t.Run("a node whose pier restarts serves again", func(t *testing.T) {
		n := nodes[1]
		n.stop()
		if _, _, err := n.get("hello", "/"); err == nil {
			t.Fatalf("node %s answers with its pier stopped", n.name)
		}
		began := time.Now()
		n.startPier(t)
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, _ := n.get("hello", "/")
			if code == 200 && body == "hello from "+n.name {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after restart node %s answers %d %q", n.name, code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("node %s serves again %s after its pier started", n.name, time.Since(began).Round(time.Millisecond))
		if out, code := n.pier(nil, "apps:list"); code != 0 || !strings.Contains(out, "hello") {
			t.Errorf("pier apps:list on node %s after restart: %d %s", n.name, code, out)
		}
	})
	t.Logf("test body took %s", time.Since(start).Round(time.Millisecond))
}

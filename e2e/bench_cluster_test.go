//go:build bench

package e2e

// The cluster part of scripts/bench.sh: three nodes on one host (see
// startNodes) form a cluster; the benchmark measures how long joining
// takes, how soon every router serves a new release, what forwarding a
// request to the machine that runs the app costs, how long a replicated
// change takes, and what the cluster adds to pier's memory.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/sshd"
)

// pierPid is the pid of the node's pier serve. The daemon is started
// through nsenter, which execs pier: the pid is pier's own. Should a
// version of nsenter fork instead, pier is its child.
func (n *node) pierPid(t testing.TB) int {
	t.Helper()
	pid := n.cmd.Process.Pid
	isPier := func(pid int) bool {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return err == nil && filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "pier"
	}
	if isPier(pid) {
		return pid
	}
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(children)) {
		if c, err := strconv.Atoi(f); err == nil && isPier(c) {
			return c
		}
	}
	t.Fatalf("node %s: process %d is not pier, nor is any child of it", n.name, pid)
	return 0
}

// control runs a command on the node's socket from the test process, as
// the host CLI does but without starting a process: what a command costs
// the daemon, the socket's SSH handshake included.
func (n *node) control(args ...string) (string, error) {
	var out bytes.Buffer
	code, err := sshd.Exec(context.Background(), n.socket, args, nil, &out, &out)
	if err == nil && code != 0 {
		err = fmt.Errorf("pier %s on %s: exit %d: %s", strings.Join(args, " "), n.name, code, out.String())
	}
	return out.String(), err
}

// routerClient is a client with one kept-alive connection to a router.
func routerClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
}

// fetch gets app's "/" through the node's router.
func (n *node) fetch(c *http.Client, app string) (string, error) {
	req, _ := http.NewRequest("GET", "http://"+n.addr(nodeHTTPPort)+"/", nil)
	req.Host = app + ".localhost"
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// untilEverywhere polls ok for every node at once, every 5 ms, and returns
// how long after start each node first passed it.
func untilEverywhere(t testing.TB, nodes []*node, start time.Time, limit time.Duration, what string, ok func(*node) bool) []time.Duration {
	t.Helper()
	took := make([]time.Duration, len(nodes))
	failed := make([]bool, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !ok(n) {
				if time.Since(start) > limit {
					failed[i] = true
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, n := range nodes {
		if failed[i] {
			t.Fatalf("after %s, not on node %s: %s", limit, n.name, what)
		}
	}
	return took
}

func slowest(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

func TestBenchCluster(t *testing.T) {
	began := time.Now()
	nodes := startNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	key := a.key // joiners take a's keys with its state

	// Memory with the cluster off: started, idle, no apps.
	time.Sleep(5 * time.Second)
	rssOff := make([]int64, len(nodes))
	for i, n := range nodes {
		rssOff[i] = rss(t, n.pierPid(t))
	}

	// Joining, each command's wall time through the host CLI.
	timed := func(n *node, args ...string) time.Duration {
		start := time.Now()
		if out, code := n.pier(nil, args...); code != 0 {
			t.Fatalf("pier %s on %s: exit %d\n%s", strings.Join(args, " "), n.name, code, out)
		}
		return time.Since(start)
	}
	initTook := timed(a, "cluster:init")
	joinB := timed(b, "cluster:join", a.clusterURL(), a.token(t))
	joinC := timed(c, "cluster:join", a.clusterURL(), a.token(t))
	eventually(t, 15*time.Second, "every machine lists 3 alive machines", func() bool {
		for _, n := range nodes {
			rows := n.nodes(t)
			if len(rows) != 3 {
				return false
			}
			for _, r := range rows {
				if r.State != "alive" {
					return false
				}
			}
		}
		return true
	})
	leader := a.leader(t)
	if leader != "a" {
		t.Fatalf("leader after the joins: %q, want a", leader)
	}

	// Memory with the cluster on: the same, no apps, after the same settle.
	time.Sleep(5 * time.Second)
	rssOn := make([]int64, len(nodes))
	for i, n := range nodes {
		rssOn[i] = rss(t, n.pierPid(t))
	}

	// Route convergence: code-only redeploys, pushed to each machine in
	// turn (built there, started on a, where the app runs), from the push
	// returning until every router serves the new version.
	const app = "hello"
	clients := map[*node]*http.Client{}
	for _, n := range nodes {
		clients[n] = routerClient()
	}
	serves := func(want string) func(*node) bool {
		return func(n *node) bool { body, err := n.fetch(clients[n], app); return err == nil && body == want }
	}
	repo := gitRepo(t, clusterApp("v0"))
	if out, ok := a.push(repo, app, key); !ok {
		t.Fatalf("push v0 to a:\n%s", out)
	}
	untilEverywhere(t, nodes, time.Now(), 30*time.Second, "v0 served", serves("v0"))
	const redeploys = 5
	var pushes, converged []time.Duration
	var perNode [][]time.Duration
	runsOn := a
	for i := 1; i <= redeploys; i++ {
		to := nodes[i%len(nodes)] // b, c, a, b, c
		v := fmt.Sprintf("v%d", i)
		commit(t, repo, clusterApp(v))
		start := time.Now()
		if out, ok := to.push(repo, app, key); !ok {
			t.Fatalf("push %s to %s:\n%s", v, to.name, out)
		}
		pushes = append(pushes, time.Since(start))
		took := untilEverywhere(t, nodes, time.Now(), 30*time.Second, v+" served", serves(v))
		converged = append(converged, slowest(took))
		perNode = append(perNode, took)
	}
	final := fmt.Sprintf("v%d", redeploys)
	time.Sleep(3 * time.Second) // the other machines retire what they ran

	// Forwarding: GETs through the router of the machine that runs the app
	// and through the two others', one after another in turn.
	const requests, warmup = 2000, 200
	order := []*node{runsOn}
	for _, n := range nodes {
		if n != runsOn {
			order = append(order, n)
		}
	}
	lat := map[*node][]time.Duration{}
	for i := 0; i < warmup+requests; i++ {
		for _, n := range order {
			start := time.Now()
			body, err := n.fetch(clients[n], app)
			took := time.Since(start)
			if err != nil || body != final {
				t.Fatalf("GET %s through %s: %q %v", app, n.name, body, err)
			}
			if i >= warmup {
				lat[n] = append(lat[n], took)
			}
		}
	}
	local := lat[runsOn]
	var forwarded []time.Duration
	for _, n := range order[1:] {
		forwarded = append(forwarded, lat[n]...)
	}

	// Raft writes: config:set --no-restart on the leader and on a
	// follower, through the host CLI (a process start included) and over
	// the socket from the test process; and from the start of a change
	// until config:get shows it on every machine.
	const changes = 10
	follower := b
	var cliLeader, cliFollower, cliRead, sockLeader, sockFollower, sockRead, visibleLeader, visibleFollower []time.Duration
	for i := 0; i < changes; i++ {
		cliLeader = append(cliLeader, timed(a, "config:set", app, "--no-restart", fmt.Sprintf("CLI_LEADER=%d", i)))
		cliFollower = append(cliFollower, timed(follower, "config:set", app, "--no-restart", fmt.Sprintf("CLI_FOLLOWER=%d", i)))
		cliRead = append(cliRead, timed(follower, "config:get", app, "CLI_FOLLOWER"))
		for _, n := range []*node{a, follower} {
			k, v := "SOCK_"+strings.ToUpper(n.name), strconv.Itoa(i)
			start := time.Now()
			if _, err := n.control("config:set", app, "--no-restart", k+"="+v); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			seen := untilEverywhere(t, nodes, start, 10*time.Second, k+"="+v, func(m *node) bool {
				out, err := m.control("config:get", app, k)
				return err == nil && strings.TrimSpace(out) == v
			})
			if n == a {
				sockLeader = append(sockLeader, took)
				visibleLeader = append(visibleLeader, slowest(seen))
			} else {
				sockFollower = append(sockFollower, took)
				visibleFollower = append(visibleFollower, slowest(seen))
			}
		}
		start := time.Now()
		if _, err := follower.control("config:get", app, "SOCK_A"); err != nil {
			t.Fatal(err)
		}
		sockRead = append(sockRead, time.Since(start))
	}

	sec := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	us := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	p50, p99 := func(d []time.Duration) time.Duration { return percentile(d, 0.5) }, func(d []time.Duration) time.Duration { return percentile(d, 0.99) }
	ratio := func(x, y time.Duration) string { return fmt.Sprintf("%.2fx", float64(x)/float64(y)) }
	target := "target <= 1 s"
	if slowest(converged) > time.Second {
		target += " (max over it)"
	}
	rows := [][3]string{
		{"cluster:init on a (host CLI, wall time)", sec(initTook), ""},
		{"cluster:join b through a", sec(joinB), ""},
		{"cluster:join c through a", sec(joinC), "3 voters"},
		{"redeploy: push returns -> new version through every router", ms(median(converged)), fmt.Sprintf("median of %d, max %s; %s", redeploys, ms(slowest(converged)), target)},
		{"  push to any machine, returns", sec(median(pushes)), "median; code-only, Python, started on a"},
		{fmt.Sprintf("GET via the router of the app's machine (%s), p50", runsOn.name), us(p50(local)), fmt.Sprintf("p99 %s; %d sequential, keep-alive", us(p99(local)), len(local))},
		{"GET via another machine's router, forwarded over mTLS, p50", us(p50(forwarded)), fmt.Sprintf("p99 %s; %d via %s and %s, interleaved", us(p99(forwarded)), len(forwarded), order[1].name, order[2].name)},
		{"  forwarding overhead, p50", "+" + us(p50(forwarded)-p50(local)), ratio(p50(forwarded), p50(local)) + " local"},
		{"  forwarding overhead, p99", "+" + us(p99(forwarded)-p99(local)), ratio(p99(forwarded), p99(local)) + " local"},
		{"config:set --no-restart, host CLI, on the leader (a)", ms(median(cliLeader)), fmt.Sprintf("median of %d; a process start included", changes)},
		{"config:set --no-restart, host CLI, on a follower (b)", ms(median(cliFollower)), fmt.Sprintf("median of %d", changes)},
		{"  floor: config:get, host CLI, on b (no write)", ms(median(cliRead)), fmt.Sprintf("median of %d", changes)},
		{"config:set over the socket, on the leader (a)", ms(median(sockLeader)), fmt.Sprintf("median of %d; from the test process", changes)},
		{"config:set over the socket, on a follower (b)", ms(median(sockFollower)), fmt.Sprintf("median of %d", changes)},
		{"  floor: config:get over the socket (no write)", ms(median(sockRead)), fmt.Sprintf("median of %d", changes)},
		{"config:set on a starts -> config:get shows it everywhere", ms(median(visibleLeader)), fmt.Sprintf("median of %d, max %s; over the socket, polled every 5 ms", changes, ms(slowest(visibleLeader)))},
		{"config:set on b starts -> config:get shows it everywhere", ms(median(visibleFollower)), fmt.Sprintf("median of %d, max %s", changes, ms(slowest(visibleFollower)))},
	}
	for i, n := range nodes {
		note := fmt.Sprintf("off %s, on %s; target <= +10 MB", mb(rssOff[i]), mb(rssOn[i]))
		if rssOn[i]-rssOff[i] > 10e6 {
			note += " (over it)"
		}
		rows = append(rows, [3]string{fmt.Sprintf("pier RSS idle, no apps, node %s: cluster on - off", n.name), fmt.Sprintf("%+.1f MB", float64(rssOn[i]-rssOff[i])/1e6), note})
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\n%-60s  %-10s  %s\n", "cluster of 3 machines on one host", "value", "note")
	fmt.Fprintf(&out, "%s\n", strings.Repeat("-", 120))
	for _, r := range rows {
		fmt.Fprintf(&out, "%-60s  %-10s  %s\n", r[0], r[1], r[2])
	}
	fmt.Fprintf(&out, "\nraw: convergence %v\n     by node (a b c) %v\n     pushes %v\n", converged, perNode, pushes)
	for _, n := range order {
		fmt.Fprintf(&out, "     GET via %s: p50 %s p90 %s p99 %s max %s\n", n.name, us(p50(lat[n])), us(percentile(lat[n], 0.9)), us(p99(lat[n])), us(slowest(lat[n])))
	}
	fmt.Fprintf(&out, "     config:set on a visible everywhere %v\n     config:set on b visible everywhere %v\n", visibleLeader, visibleFollower)
	fmt.Fprintf(&out, "     load average: %s; benchmark took %s\n", loadavg(), time.Since(began).Round(time.Second))
	fmt.Print(out.String())
}

package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/app"
)

// fakeCluster is a Cluster of three machines as node2 sees it, or, with
// alone set, a machine in no cluster. It records the calls that change
// something.
type fakeCluster struct {
	mu    sync.Mutex
	alone bool  // in no cluster: Enabled false and no nodes
	err   error // returned by every method, if set
	calls []string
}

const testToken = "PIER1." + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
	".0123456789abcdef.0123456789abcdef0123456789abcdef"

var seen = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func (f *fakeCluster) record(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeCluster) ClusterInit(context.Context) (app.ClusterStatus, error) {
	if f.err != nil {
		return app.ClusterStatus{}, f.err
	}
	f.record("ClusterInit")
	return app.ClusterStatus{Enabled: true, Name: "node1", State: "Leader", Leader: "node1", Voters: []string{"node1"}, Term: 1}, nil
}

func (f *fakeCluster) ClusterToken(_ context.Context, role string, ttl time.Duration) (string, time.Time, error) {
	if f.err != nil {
		return "", time.Time{}, f.err
	}
	f.record("ClusterToken %s %s", role, ttl)
	return testToken, time.Now().Add(ttl), nil
}

func (f *fakeCluster) ClusterJoin(_ context.Context, url, token string, out io.Writer) (app.ClusterStatus, error) {
	if f.err != nil {
		return app.ClusterStatus{}, f.err
	}
	f.record("ClusterJoin %s %s", url, token)
	fmt.Fprintln(out, "-----> Asking node1 to let node2 in")
	return f.ClusterStatus(context.Background())
}

func (f *fakeCluster) ClusterLeave(_ context.Context, out io.Writer) error {
	if f.err != nil {
		return f.err
	}
	f.record("ClusterLeave")
	fmt.Fprintln(out, "-----> Moving 5 instances to node1 and node3")
	return nil
}

func (f *fakeCluster) ClusterStatus(context.Context) (app.ClusterStatus, error) {
	if f.err != nil {
		return app.ClusterStatus{}, f.err
	}
	if f.alone {
		return app.ClusterStatus{}, nil
	}
	return app.ClusterStatus{Enabled: true, Name: "node2", State: "Follower", Leader: "node1",
		Voters: []string{"node1", "node2", "node3"}, Term: 4, AppliedIndex: 118, CommitIndex: 120,
		LastContact: time.Now().Add(-120 * time.Millisecond)}, nil
}

func (f *fakeCluster) Nodes(context.Context) ([]app.Member, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.alone {
		return nil, nil
	}
	return []app.Member{
		{Name: "node1", Address: "10.0.0.1:7946", Role: "voter", State: "alive", Leader: true, Arch: "amd64",
			MemAvail: 412 << 20, MemTotal: 1946 << 20, DiskAvail: 20 << 30, CPUs: 2, Load1: 0.31, Instances: 3, Seen: seen},
		{Name: "node2", Address: "10.0.0.2:7946", Role: "voter", State: "alive", Self: true, Arch: "arm64",
			MemAvail: 1229 << 20, MemTotal: 3891 << 20, DiskAvail: 51 << 30, CPUs: 4, Load1: 1.05, Instances: 5, Seen: seen,
			Labels: map[string]string{"zone": "attic", "disk": "ssd"}},
		{Name: "node3", Address: "10.0.0.3:7946", Role: "worker", State: "unknown"},
	}, nil
}

func clusterTable(f *fakeCluster) (*Table, *platform) {
	p := newPlatform()
	info := Info{Version: "1.2.3"}
	if f != nil {
		info.Cluster = f
	}
	return New(p, info), p
}

// Each command's output, as text and as JSON, in a cluster and out of one.
func TestClusterCommands(t *testing.T) {
	tests := []struct {
		name   string
		alone  bool
		args   []string
		call   string // the change the backend saw, if any
		stdout string // exact stdout, or with a trailing "…" its beginning
		stderr []string
	}{
		{name: "init", alone: true, args: []string{"cluster:init"}, call: "ClusterInit",
			stdout: "-----> Founded a cluster of one machine, node1, which leads it\n" +
				"       made the cluster's CA and node1's certificate, and started its control plane\n" +
				"-----> To add a machine, make a join token here:\n" +
				"       pier cluster:token\n" +
				"       then on that machine run:\n" +
				"       pier cluster:join https://HOST:PORT TOKEN\n"},
		{name: "token", args: []string{"cluster:token"}, call: "ClusterToken server 1h0m0s",
			stdout: testToken + "\n",
			stderr: []string{"-----> It admits one server, once, within 1h (until ",
				"\n       pier cluster:join https://10.0.0.2:7946 TOKEN\n       with TOKEN the line above\n"}},
		{name: "token for a worker", args: []string{"cluster:token", "--role", "worker", "--ttl", "90m"},
			call: "ClusterToken worker 1h30m0s", stdout: testToken + "\n",
			stderr: []string{"It admits one worker, once, within 1h30m (until "}},
		{name: "token at the bounds", args: []string{"cluster:token", "--ttl", "24h"},
			call: "ClusterToken server 24h0m0s", stdout: testToken + "\n", stderr: []string{"within 24h "}},
		{name: "token at the lower bound", args: []string{"cluster:token", "--ttl", "1m"},
			call: "ClusterToken server 1m0s", stdout: testToken + "\n", stderr: []string{"within 1m "}},
		{name: "join", args: []string{"cluster:join", "https://10.0.0.1:7946", testToken},
			call: "ClusterJoin https://10.0.0.1:7946 " + testToken,
			stdout: "-----> Asking node1 to let node2 in\n" +
				"-----> node2 joined the cluster at https://10.0.0.1:7946\n" +
				"=== cluster, as node2 sees it\n" +
				"Leader:         node1\n…"},
		{name: "join adds https://", args: []string{"cluster:join", "10.0.0.1:7946", testToken},
			call: "ClusterJoin https://10.0.0.1:7946 " + testToken, stdout: "-----> Asking node1…"},
		{name: "join IPv6, a slash after the port", args: []string{"cluster:join", "https://[fd00::1]:7946/", testToken},
			call: "ClusterJoin https://[fd00::1]:7946 " + testToken, stdout: "-----> Asking node1…"},
		{name: "leave", args: []string{"cluster:leave"}, call: "ClusterLeave",
			stdout: "-----> Moving 5 instances to node1 and node3\n-----> This machine has left its cluster\n"},
		{name: "status", args: []string{"cluster:status"},
			stdout: "=== cluster, as node2 sees it\n" +
				"Leader:         node1\n" +
				"This machine:   node2, Follower\n" +
				"Voters:         node1, node2, node3\n" +
				"Non-voters:     -\n" +
				"Term:           4\n" +
				"Applied index:  118\n" +
				"Commit index:   120\n" +
				"Last contact:   12…"},
		{name: "status alone", alone: true, args: []string{"cluster:status"},
			stdout: "this machine is not in a cluster: pier cluster:init starts one\n"},
		{name: "status json alone", alone: true, args: []string{"cluster:status", "--format", "json"},
			stdout: "{\n  \"enabled\": false\n}\n"},
		{name: "status json", args: []string{"cluster:status", "--format=json"},
			stdout: `{
  "enabled": true,
  "name": "node2",
  "state": "Follower",
  "leader": "node1",
  "voters": [
    "node1",
    "node2",
    "node3"
  ],
  "non_voters": [],
  "term": 4,
  "applied_index": 118,
  "commit_index": 120,
  "last_contact": "…`},
		{name: "nodes", args: []string{"nodes:list"},
			stdout: "NAME    ADDRESS        ROLE    STATE    ARCH   MEMORY     CPU            INSTANCES\n" +
				"node1*  10.0.0.1:7946  voter   alive    amd64  412M/1.9G  2 (load 0.31)  3\n" +
				"node2   10.0.0.2:7946  voter   alive    arm64  1.2G/3.8G  4 (load 1.05)  5\n" +
				"node3   10.0.0.3:7946  worker  unknown  -      -          -              0\n" +
				"* leads the cluster; this machine is node2; MEMORY is available/total\n"},
		{name: "nodes alone", alone: true, args: []string{"nodes:list"},
			stdout: "this machine is not in a cluster: pier cluster:init starts one\n"},
		{name: "nodes json alone", alone: true, args: []string{"nodes:list", "--format", "json"}, stdout: "[]\n"},
		{name: "nodes json", args: []string{"nodes:list", "--format", "json"},
			stdout: `[
  {
    "name": "node1",
    "address": "10.0.0.1:7946",
    "role": "voter",
    "state": "alive",
    "leader": true,
    "self": false,
    "arch": "amd64",
    "memory_available_bytes": 432013312,
    "memory_total_bytes": 2040528896,
    "disk_available_bytes": 21474836480,
    "cpus": 2,
    "load1": 0.31,
    "instances": 3,
    "last_seen": "2025-03-04T10:00:00Z"
  },
  {
    "name": "node2",…`},
		{name: "report", args: []string{"nodes:report", "node2"},
			stdout: "=== node2 (this machine)\n" +
				"Address:    10.0.0.2:7946\n" +
				"Role:       voter\n" +
				"State:      alive, last seen 2025-03-04\n" +
				"Arch:       arm64\n" +
				"Memory:     1.2G available of 3.8G\n" +
				"Disk:       51G available\n" +
				"CPUs:       4, load 1.05\n" +
				"Instances:  5\n" +
				"Labels:     disk=ssd,zone=attic\n"},
		{name: "report the leader", args: []string{"nodes:report", "node1"}, stdout: "=== node1 (the leader)\n…"},
		{name: "report unheard", args: []string{"nodes:report", "node3"},
			stdout: "=== node3\n" +
				"Address:    10.0.0.3:7946\n" +
				"Role:       worker\n" +
				"State:      unknown, last seen never\n" +
				"Arch:       -\n" +
				"Memory:     -\n" +
				"Disk:       -\n" +
				"CPUs:       -\n" +
				"Instances:  0\n" +
				"Labels:     -\n"},
		{name: "report json", args: []string{"nodes:report", "node3", "--format", "json"},
			stdout: `{
  "name": "node3",
  "address": "10.0.0.3:7946",
  "role": "worker",
  "state": "unknown",
  "leader": false,
  "self": false,
  "arch": "",
  "memory_available_bytes": 0,
  "memory_total_bytes": 0,
  "disk_available_bytes": 0,
  "cpus": 0,
  "load1": 0,
  "instances": 0
}
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCluster{alone: tc.alone}
			tb, _ := clusterTable(f)
			r := run(tb, alice, "", tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if prefix, ok := strings.CutSuffix(tc.stdout, "…"); ok {
				if !strings.HasPrefix(r.stdout, prefix) {
					t.Errorf("got stdout %q, want it to start with %q", r.stdout, prefix)
				}
			} else if r.stdout != tc.stdout {
				t.Errorf("got stdout %q, want %q", r.stdout, tc.stdout)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("got stderr %q, want %q in it", r.stderr, w)
				}
			}
			if tc.stderr == nil && r.stderr != "" {
				t.Errorf("got stderr %q, want none", r.stderr)
			}
			if strings.Contains(r.stderr, testToken) {
				t.Errorf("stderr %q repeats the token", r.stderr)
			}
			var want []string
			if tc.call != "" {
				want = []string{tc.call}
			}
			if got := strings.Join(f.calls, "; "); got != strings.Join(want, "; ") {
				t.Errorf("got calls %q, want %q", got, want)
			}
		})
	}
}

func TestClusterStatusTimes(t *testing.T) {
	tests := []struct {
		name string
		st   app.ClusterStatus
		want string
	}{
		{"leader", app.ClusterStatus{Name: "node1", State: "Leader", Leader: "node1"}, "Last contact:   -\n"},
		{"never heard", app.ClusterStatus{Name: "node2", State: "Follower"}, "Last contact:   never\n"},
		{"election", app.ClusterStatus{Name: "node2", State: "Candidate"}, "Leader:         none: an election is under way\n"},
		{"ms", app.ClusterStatus{Name: "node2", State: "Follower", LastContact: time.Now().Add(-300 * time.Millisecond)}, "ms ago\n"},
		{"seconds", app.ClusterStatus{Name: "node2", State: "Follower", LastContact: time.Now().Add(-3500 * time.Millisecond)}, "Last contact:   3.5s ago\n"},
		{"minutes", app.ClusterStatus{Name: "node2", State: "Follower", LastContact: time.Now().Add(-5 * time.Minute)}, "Last contact:   5m ago\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeStatus(&b, tc.st); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("got %q, want %q in it", b.String(), tc.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1K"}, {1536, "1.5K"},
		{412 << 20, "412M"}, {1946 << 20, "1.9G"}, {2 << 30, "2G"}, {10 << 30, "10G"},
		{10189 << 20, "10G"}, {10188 << 20, "9.9G"}, {3 << 40, "3T"},
	}
	for _, tc := range tests {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d): got %q, want %q", tc.n, got, tc.want)
		}
	}
}

// Wrong arguments exit 2 with the usage and reach no backend.
func TestClusterBadUsage(t *testing.T) {
	long := tokenPrefix + strings.Repeat("a", 300)
	tests := []struct {
		name string
		args []string
		want string // in stderr, besides the usage line
	}{
		{"init extra", []string{"cluster:init", "now"}, "usage: cluster:init\n"},
		{"token extra", []string{"cluster:token", "server"}, "usage: cluster:token [--role server|worker] [--ttl DURATION]\n"},
		{"token role", []string{"cluster:token", "--role", "admin"}, `pier: --role "admin": want server or worker`},
		{"token role missing", []string{"cluster:token", "--role"}, "pier: --role needs a value"},
		{"token unknown flag", []string{"cluster:token", "--force"}, `pier: unknown flag "--force"`},
		{"token ttl syntax", []string{"cluster:token", "--ttl", "1 day"}, `pier: --ttl "1 day": want a duration such as 30m or 2h`},
		{"token ttl number", []string{"cluster:token", "--ttl", "60"}, `pier: --ttl "60": want a duration`},
		{"token ttl short", []string{"cluster:token", "--ttl", "30s"}, "pier: --ttl 30s is out of range: a token lasts from 1m to 24h"},
		{"token ttl long", []string{"cluster:token", "--ttl", "25h"}, "pier: --ttl 25h is out of range"},
		{"token ttl negative", []string{"cluster:token", "--ttl", "-1h"}, "out of range"},
		{"join nothing", []string{"cluster:join"}, "usage: cluster:join URL TOKEN\n"},
		{"join no token", []string{"cluster:join", "https://10.0.0.1:7946"}, "usage: cluster:join URL TOKEN\n"},
		{"join extra", []string{"cluster:join", "https://10.0.0.1:7946", testToken, "now"}, "usage: cluster:join URL TOKEN\n"},
		{"join swapped", []string{"cluster:join", testToken, "https://10.0.0.1:7946"}, "pier: the URL comes first, then the token"},
		{"join http", []string{"cluster:join", "http://10.0.0.1:7946", testToken}, "speak only https"},
		{"join no port", []string{"cluster:join", "https://10.0.0.1", testToken}, `pier: URL "https://10.0.0.1" has no port: want https://HOST:PORT`},
		{"join bare host", []string{"cluster:join", "node1", testToken}, `URL "node1" has no port`},
		{"join path", []string{"cluster:join", "https://10.0.0.1:7946/join", testToken}, "nothing may follow the port"},
		{"join query", []string{"cluster:join", "https://10.0.0.1:7946?x=1", testToken}, "nothing may follow the port"},
		{"join user", []string{"cluster:join", "https://me@10.0.0.1:7946", testToken}, "want https://HOST:PORT"},
		{"join port 0", []string{"cluster:join", "https://10.0.0.1:0", testToken}, "port 0 is not between 1 and 65535"},
		{"join port big", []string{"cluster:join", "10.0.0.1:70000", testToken}, "port 70000 is not between"},
		{"join port word", []string{"cluster:join", "https://HOST:PORT", testToken}, "want https://HOST:PORT"},
		{"join no host", []string{"cluster:join", "https://:7946", testToken}, "want https://HOST:PORT"},
		{"join not a token", []string{"cluster:join", "https://10.0.0.1:7946", "hunter2"}, "pier: TOKEN is not a join token (they start with PIER1.)"},
		{"join prefix alone", []string{"cluster:join", "https://10.0.0.1:7946", "PIER1."}, "TOKEN is not a join token"},
		{"join token too long", []string{"cluster:join", "https://10.0.0.1:7946", long}, "TOKEN is 306 characters long, at most 256"},
		{"leave extra", []string{"cluster:leave", "now"}, "usage: cluster:leave\n"},
		{"leave force", []string{"cluster:leave", "--force"}, "usage: cluster:leave\n"},
		{"status extra", []string{"cluster:status", "x"}, "usage: cluster:status [--format json]\n"},
		{"status format", []string{"cluster:status", "--format", "yaml"}, `unknown format "yaml"`},
		{"nodes extra", []string{"nodes:list", "node1"}, "usage: nodes:list [--format json]\n"},
		{"nodes format", []string{"nodes:list", "--format=xml"}, `unknown format "xml"`},
		{"report nothing", []string{"nodes:report"}, "usage: nodes:report NODE [--format json]\n"},
		{"report two", []string{"nodes:report", "node1", "node2"}, "usage: nodes:report NODE [--format json]\n"},
		{"report bad name", []string{"nodes:report", "Node_1"}, `pier: node name "Node_1" is not a DNS name`},
		{"report dash", []string{"nodes:report", "-node"}, "is not a DNS name"},
		{"report format", []string{"nodes:report", "node1", "--format", "yaml"}, `unknown format "yaml"`},
		{"report format missing", []string{"nodes:report", "node1", "--format"}, "--format needs a value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCluster{}
			tb, p := clusterTable(f)
			r := run(tb, alice, "", tc.args...)
			usage := "usage: " + tb.lookup(tc.args[0], alice).usage() + "\n"
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.HasSuffix(r.stderr, usage) {
				t.Errorf("got exit %d, stderr %q; want 2 and %q then %q", r.code, r.stderr, tc.want, usage)
			}
			if r.stdout != "" || len(f.calls) != 0 || len(p.events) != 0 {
				t.Errorf("got stdout %q, calls %q, events %v; want none", r.stdout, f.calls, p.events)
			}
			if strings.Contains(r.stderr, "PIER1.0123") {
				t.Errorf("stderr %q echoes the token", r.stderr)
			}
		})
	}
}

// Failures exit 1 with the backend's words, or the table's.
func TestClusterErrors(t *testing.T) {
	refused := errors.New("join token already used: a token admits one node; ask for a new one with pier cluster:token on a server")
	tests := []struct {
		name string
		f    *fakeCluster // nil: a Table without clustering
		user Identity
		args []string
		want string // stderr
	}{
		{"backend error as it is", &fakeCluster{err: refused}, alice,
			[]string{"cluster:join", "https://10.0.0.1:7946", testToken}, "pier: " + refused.Error() + "\n"},
		{"backend error on status", &fakeCluster{err: errors.New("cluster state unreadable: disk full")}, alice,
			[]string{"cluster:status", "--format", "json"}, "pier: cluster state unreadable: disk full\n"},
		{"unknown node", &fakeCluster{}, alice, []string{"nodes:report", "node9"},
			"pier: no node node9 in the cluster; nodes:list shows them\n"},
		{"unknown node alone", &fakeCluster{alone: true}, alice, []string{"nodes:report", "node1", "--format", "json"},
			"pier: no node node1 in the cluster; nodes:list shows them\n"},
		{"no clustering: init", nil, alice, []string{"cluster:init"}, "pier: clustering is not available in this build\n"},
		{"no clustering: token", nil, alice, []string{"cluster:token"}, "pier: clustering is not available in this build\n"},
		{"no clustering: join", nil, alice, []string{"cluster:join", "10.0.0.1:7946", testToken}, "pier: clustering is not available in this build\n"},
		{"no clustering: leave", nil, alice, []string{"cluster:leave"}, "pier: clustering is not available in this build\n"},
		{"no clustering: status", nil, alice, []string{"cluster:status"}, "pier: clustering is not available in this build\n"},
		{"no clustering: nodes", nil, alice, []string{"nodes:list"}, "pier: clustering is not available in this build\n"},
		{"no clustering: report", nil, alice, []string{"nodes:report", "node1"}, "pier: clustering is not available in this build\n"},
		{"an app key may not", &fakeCluster{}, Identity{Name: "ci", App: "hello"}, []string{"cluster:token"},
			"pier: this key may only deploy and read hello; cluster:token needs an admin key\n"},
		{"an app key may not look", &fakeCluster{}, Identity{Name: "ci", App: "hello"}, []string{"nodes:list"},
			"pier: this key may only deploy and read hello; nodes:list needs an admin key\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, p := clusterTable(tc.f)
			r := run(tb, tc.user, "", tc.args...)
			if r.code != 1 || r.stderr != tc.want {
				t.Errorf("got exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
			}
			if r.stdout != "" || len(p.events) != 0 {
				t.Errorf("got stdout %q, events %v; want none", r.stdout, p.events)
			}
		})
	}
}

// Changes reach the audit log without the join token and without an app;
// what only reads does not.
func TestClusterAudit(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for no event
	}{
		{[]string{"cluster:init"}, "cluster:init "},
		{[]string{"cluster:token", "--role", "worker", "--ttl", "2h"}, "cluster:token --role worker --ttl 2h"},
		{[]string{"cluster:join", "10.0.0.1:7946", testToken}, "cluster:join 10.0.0.1:7946 …"},
		{[]string{"cluster:leave"}, "cluster:leave "},
		{[]string{"cluster:status"}, ""},
		{[]string{"nodes:list"}, ""},
		{[]string{"nodes:report", "node1"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			tb, p := clusterTable(&fakeCluster{})
			if r := run(tb, alice, "", tc.args...); r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var got []string
			for _, e := range p.events {
				if e.App != "" || e.Who != "alice" {
					t.Errorf("event %+v names an app or the wrong caller", e)
				}
				got = append(got, e.Action+" "+e.Detail)
			}
			want := []string{}
			if tc.want != "" {
				want = []string{tc.want}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got events %q, want %q", got, want)
			}
		})
	}
}

func TestClusterHelp(t *testing.T) {
	tb, _ := clusterTable(&fakeCluster{})
	r := run(tb, alice, "", "help")
	for _, w := range []string{"cluster:init ", "cluster:token [--role server|worker] [--ttl DURATION]", "cluster:join URL TOKEN",
		"cluster:leave ", "cluster:status [--format json]", "nodes:list [--format json]", "nodes:report NODE [--format json]"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("help %q lacks %q", r.stdout, w)
		}
	}
	if r := run(tb, alice, "", "help", "cluster:join"); !strings.Contains(r.stdout, "example:\n  cluster:join https://10.0.0.1:7946 PIER1.") {
		t.Errorf("help cluster:join: got %q", r.stdout)
	}
}

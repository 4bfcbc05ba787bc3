package web_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"pier/app"
	"pier/web"
)

// fakeCluster is a Cluster as it answers: a real one needs several
// machines talking raft and gossip over TLS, which the cluster's own tests
// and e2e run.
type fakeCluster struct {
	status app.ClusterStatus
	nodes  []app.Member
	err    error
}

func (f fakeCluster) ClusterStatus(context.Context) (app.ClusterStatus, error) {
	return f.status, f.err
}
func (f fakeCluster) Nodes(context.Context) ([]app.Member, error) { return f.nodes, f.err }

// threeMachines is a cluster of three as node2 sees it: node1 leads, the
// third (whose name needs escaping) is a worker that failed.
func threeMachines(now time.Time) fakeCluster {
	const gib = 1 << 30
	return fakeCluster{
		status: app.ClusterStatus{Enabled: true, Name: "node2", State: "Follower", Leader: "node1",
			Voters: []string{"node1", "node2"}, NonVoters: []string{"<b>n3</b>"}, Term: 7,
			AppliedIndex: 41, CommitIndex: 42, LastContact: now.Add(-3 * time.Second)},
		nodes: []app.Member{
			{Name: "node1", Address: "10.0.0.1:7946", Role: "voter", State: "alive", Leader: true, Arch: "amd64",
				MemAvail: 1 * gib, MemTotal: 4 * gib, DiskAvail: 20 * gib, CPUs: 4, Load1: 0.5, Instances: 3, Seen: now.Add(-3 * time.Second)},
			{Name: "node2", Address: "10.0.0.2:7946", Role: "voter", State: "suspect", Self: true, Arch: "arm64",
				MemAvail: 3 * gib, MemTotal: 4 * gib, DiskAvail: 5 * gib, CPUs: 2, Load1: 1.25, Instances: 1, Seen: now.Add(-5 * time.Minute),
				Labels: map[string]string{"zone": "attic", "disk": "ssd"}},
			{Name: "<b>n3</b>", Address: "10.0.0.3:7946", Role: "worker", State: "failed"},
		},
	}
}

func withCluster(c web.Cluster) func(*web.Config) {
	return func(cfg *web.Config) { cfg.Cluster = c }
}

var nodeRowHTML = regexp.MustCompile(`(?s)<tr id="node-[^"]*".*?</tr>`)

func TestNodesPage(t *testing.T) {
	srv, _, _ := dashboard(t, withCluster(threeMachines(time.Now())))

	if code, _, h := newBrowser(t, srv).get("/nodes"); code != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Fatalf("GET /nodes without a login: %d to %q, want 303 to /login", code, h.Get("Location"))
	}

	b := newBrowser(t, srv)
	b.login()
	code, body, _ := b.get("/nodes")
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, body)
	}
	for _, w := range []string{
		`<a href="/nodes">Nodes</a>`,
		`<dd id="status-leader">node1</dd>`, `<dd id="status-self">node2 (Follower)</dd>`,
		`<dd id="status-voters">node1, node2</dd>`, `<dd id="status-non-voters">&lt;b&gt;n3&lt;/b&gt;</dd>`,
		`<dd id="status-term">7</dd>`, `<dd id="status-index">41 / 42</dd>`,
		`>disk=ssd</span> <span class="tag label" title="A node label (pier serve --node-labels)">zone=attic</span></td>`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("lacks %q", w)
		}
	}
	if strings.Contains(body, "<b>n3</b>") {
		t.Error("a machine's name is not escaped")
	}
	if strings.Contains(body, "not in a cluster") {
		t.Error("says the machine is in no cluster")
	}

	rows := nodeRowHTML.FindAllString(body, -1)
	if len(rows) != 3 {
		t.Fatalf("got %d machines, want 3:\n%s", len(rows), body)
	}
	tests := []struct {
		name string
		row  string
		want []string
		not  []string
	}{
		{"the leader", rows[0], []string{`<strong>node1</strong>`, `class="tag leader"`, `class="state alive"`,
			"<code>10.0.0.1:7946</code>", "amd64", "1.0 GiB free of 4.0 GiB", `aria-label="75% in use"`, `class="bar warn"`,
			"4 CPUs, load 0.50", "20.0 GiB free", `<td data-label="Instances">3</td>`},
			[]string{"this machine"}},
		{"this machine", rows[1], []string{`class="self"`, `class="tag self"`, "this machine", `class="state suspect"`,
			`aria-label="25% in use"`, `class="bar ok"`, "2 CPUs, load 1.25", "5m ago"},
			[]string{"tag leader"}},
		{"a failed worker", rows[2], []string{`<tr id="node-&lt;b&gt;n3&lt;/b&gt;">`, `<strong>&lt;b&gt;n3&lt;/b&gt;</strong>`,
			`class="state failed"`, "worker", `<td data-label="Memory">-</td>`, `<td data-label="CPU">-</td>`, "never"},
			[]string{"tag leader", "this machine", "<svg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !strings.Contains(tc.row, w) {
					t.Errorf("lacks %q in\n%s", w, tc.row)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(tc.row, n) {
					t.Errorf("shows %q in\n%s", n, tc.row)
				}
			}
		})
	}
	if !regexp.MustCompile(`[34]s ago`).MatchString(rows[0]) {
		t.Errorf("the leader's last seen is not 3s ago:\n%s", rows[0])
	}
	if !regexp.MustCompile(`<dd id="status-contact">[34]s ago</dd>`).MatchString(body) {
		t.Errorf("last contact is not 3s ago:\n%s", body)
	}
}

// Left and unknown machines are grey; a state the page does not know is
// shown as it is, classed unknown.
func TestNodesPageGreyStates(t *testing.T) {
	c := fakeCluster{status: app.ClusterStatus{Enabled: true, Name: "a", State: "Leader", Leader: "a", Voters: []string{"a"}},
		nodes: []app.Member{{Name: "a", State: "left", Leader: true, Self: true}, {Name: "b", State: "unknown"},
			{Name: "c", State: `odd" x`}, {Name: "d"}}}
	srv, _, _ := dashboard(t, withCluster(c))
	b := newBrowser(t, srv)
	b.login()
	_, body, _ := b.get("/nodes")
	rows := nodeRowHTML.FindAllString(body, -1)
	want := []string{`<span class="state left">left</span>`, `<span class="state unknown">unknown</span>`,
		`<span class="state unknown">odd&#34; x</span>`, `<span class="state unknown">unknown</span>`}
	if len(rows) != len(want) {
		t.Fatalf("got %d machines, want %d:\n%s", len(rows), len(want), body)
	}
	for i, w := range want {
		if !strings.Contains(rows[i], w) {
			t.Errorf("machine %d lacks %q:\n%s", i, w, rows[i])
		}
	}
	if !strings.Contains(body, `<dd id="status-contact">- (this machine leads)</dd>`) {
		t.Errorf("the leader's last contact:\n%s", body)
	}
}

func TestNodesPageNotInCluster(t *testing.T) {
	tests := []struct {
		name string
		opts []func(*web.Config)
	}{
		{"no cluster", nil},
		{"a machine in no cluster", []func(*web.Config){withCluster(fakeCluster{})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, _ := dashboard(t, tc.opts...)
			b := newBrowser(t, srv)
			b.login()
			code, body, _ := b.get("/nodes")
			if code != http.StatusOK {
				t.Fatalf("%d\n%s", code, body)
			}
			for _, w := range []string{"This machine is not in a cluster", "<code>pier cluster:init</code>",
				"<code>pier cluster:token</code>", "<code>pier cluster:join URL TOKEN</code>"} {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			if strings.Contains(body, "<table") {
				t.Errorf("shows a table of machines:\n%s", body)
			}
		})
	}
}

func TestNodesPageClusterError(t *testing.T) {
	srv, _, _ := dashboard(t, withCluster(fakeCluster{err: errors.New("raft is shut down")}))
	b := newBrowser(t, srv)
	b.login()
	if code, body, _ := b.get("/nodes"); code != http.StatusInternalServerError || !strings.Contains(body, "raft is shut down") {
		t.Errorf("%d\n%s", code, body)
	}
}

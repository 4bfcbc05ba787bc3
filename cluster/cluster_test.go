package cluster_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/app"
	"pier/cluster"
	"pier/cluster/pki"
	"pier/store"
)

// machine is one pier's cluster part in this process: its own store and
// directory, its cluster port on a loopback port.
type machine struct {
	name  string
	addr  string
	store *store.Store
	c     *cluster.Cluster
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// labelsOf are the test machines' node labels.
var labelsOf = map[string]map[string]string{"c": {"disk": "ssd"}}

func newMachine(t *testing.T, name string) *machine {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{name: name, addr: freeAddr(t), store: st}
	w := &testWriter{t: t}
	t.Cleanup(w.stop) // registered before the machine's own cleanups, so it runs after them
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	apps := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s serves %s%s", name, r.Host, r.URL.Path)
	})
	m.c, err = cluster.New(cluster.Config{Dir: filepath.Join(dir, "cluster"), Name: name, Addr: m.addr, Gossip: freeAddr(t),
		Memory: func() (int64, int64) { return 512 << 20, 1 << 30 }, Instances: func() int { return 2 },
		Store: st, Log: log, HeartbeatTimeout: 500 * time.Millisecond, Apps: apps, Labels: labelsOf[name],
		Activate: func(ctx context.Context, rel app.Release, out io.Writer) error {
			fmt.Fprintf(out, "-----> %s starts %s v%d\n", name, rel.App, rel.Version)
			if rel.Image == "bad" {
				return fmt.Errorf("v%d failed its health check on %s:\nlast output", rel.Version, name)
			}
			return nil
		},
		RunOnce: func(ctx context.Context, o app.OneOff) (int, error) {
			fmt.Fprintf(o.Out, "%s runs %s\n", name, o.Command)
			if o.Command == "wait" {
				<-ctx.Done()
				return -1, ctx.Err()
			}
			return len(o.Command), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.c.Close()
		st.Close()
	})
	return m
}

func (m *machine) url() string { return "https://" + m.addr }

func token(t *testing.T, m *machine, role string, ttl time.Duration) string {
	t.Helper()
	tok, _, err := m.c.ClusterToken(context.Background(), role, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Three machines found and join one cluster; the tokens that must not
// admit anyone don't; a change made anywhere lands everywhere.
func TestInitJoinLeave(t *testing.T) {
	ctx := context.Background()
	a, b, c := newMachine(t, "a"), newMachine(t, "b"), newMachine(t, "c")
	// a single-machine pier with an app founds the cluster with it.
	if err := a.c.Apply(ctx, app.CreateApp{App: app.App{Name: "hello", CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	rel := app.Release{App: "hello", Version: 1, Image: "pier/apps/hello:1", CreatedAt: time.Now()}
	if err := a.c.Apply(ctx, app.PutRelease{Release: rel}); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.c.ClusterStatus(ctx); st.Enabled {
		t.Fatalf("status before init: %+v", st)
	}
	st, err := a.c.ClusterInit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != "a" || st.State != "Leader" || fmt.Sprint(st.Voters) != "[a]" {
		t.Fatalf("status after init: %+v", st)
	}
	if got, _ := a.store.App(ctx, "hello"); fmt.Sprint(got.Placement) != "[a]" {
		t.Errorf("the app deployed before the cluster is placed on %q, want [a]", got.Placement)
	}
	if _, err := a.c.ClusterInit(ctx); err == nil || !strings.Contains(err.Error(), "already in a cluster") {
		t.Errorf("second init: %v", err)
	}

	var out bytes.Buffer
	tokB := token(t, a, "server", time.Hour)
	if _, err := b.c.ClusterJoin(ctx, a.url(), tokB, &out); err != nil {
		t.Fatalf("join b: %v\n%s", err, out.String())
	}
	t.Run("refused tokens", func(t *testing.T) {
		refuse := func(what, tok string, want error, wantText string) {
			t.Helper()
			_, err := c.c.ClusterJoin(ctx, a.url(), tok, io.Discard)
			if err == nil || want != nil && !strings.Contains(err.Error(), want.Error()) ||
				wantText != "" && !strings.Contains(err.Error(), wantText) {
				t.Errorf("join with %s: %v; want %v %s", what, err, want, wantText)
			}
		}
		refuse("a used token", tokB, pki.ErrTokenUsed, "")
		expired := token(t, a, "server", time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		refuse("an expired token", expired, pki.ErrTokenExpired, "")
		good := token(t, a, "server", time.Hour)
		parts := strings.Split(good, ".")
		forged := strings.Join(append(parts[:3:3], strings.Repeat("0", len(parts[3]))), ".")
		refuse("a forged secret", forged, pki.ErrTokenForged, "")
		other, err := pki.NewCA("other", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		wrongPin := strings.Join(append([]string{parts[0], pki.Pin(other.Cert())}, parts[2:]...), ".")
		refuse("another cluster's pin", wrongPin, nil, "is not the cluster this token is for")
		if _, err := c.c.ClusterJoin(ctx, "https://"+freeAddr(t), good, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("join through nothing: %v", err)
		}
		if st, _ := c.c.ClusterStatus(ctx); st.Enabled {
			t.Errorf("a refused machine is in a cluster: %+v", st)
		}
	})
	if _, err := c.c.ClusterJoin(ctx, b.url(), token(t, b, "server", time.Hour), &out); err != nil {
		t.Fatalf("join c through a follower: %v\n%s", err, out.String())
	}

	t.Run("one state", func(t *testing.T) {
		for _, m := range []*machine{a, b, c} {
			st, err := m.c.ClusterStatus(ctx)
			if err != nil || st.Leader != "a" || len(st.Voters) != 3 {
				t.Errorf("%s: %+v, %v; want a leading 3 voters", m.name, st, err)
			}
			if _, err := m.store.App(ctx, "hello"); err != nil {
				t.Errorf("%s: app hello: %v", m.name, err)
			}
		}
		// a change on a follower goes through the leader to all.
		if err := c.c.Apply(ctx, app.SetConfig{App: "hello", Config: map[string]string{"GREETING": "hi"}}); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*machine{a, b, c} {
			waitFor(t, m.name+" has the config", func() bool {
				got, _ := m.store.App(ctx, "hello")
				return got.Config["GREETING"] == "hi"
			})
		}
		// Every machine's load reaches the others by gossip.
		waitFor(t, "b hears every machine's load", func() bool {
			nodes, err := b.c.Nodes(ctx)
			if err != nil || len(nodes) != 3 || !nodes[0].Leader || !nodes[1].Self {
				return false
			}
			for _, n := range nodes {
				if n.State != "alive" || n.MemTotal != 1<<30 || n.Instances != 2 || n.CPUs == 0 || n.Arch == "" {
					return false
				}
			}
			return true
		})
	})

	t.Run("placement", func(t *testing.T) {
		for _, tc := range []struct {
			placement []string
			web       int
			memMiB    int
			want      string
		}{
			// Memory alike: b, where Place is asked, comes first.
			{[]string{"c"}, 3, 0, "[c b a]"},
			{[]string{"c"}, 1, 0, "[c]"},
			{[]string{"c", "a", "b"}, 2, 0, "[c a]"},
			{nil, 9, 0, "[b a c]"},
			{[]string{"c"}, 3, 1024, "[c]"}, // no room elsewhere
		} {
			a := app.App{Name: "x", Placement: tc.placement, Limits: app.Limits{MemoryMiB: tc.memMiB}}
			got, err := b.c.Place(ctx, a, app.Release{}, map[string]int{"web": tc.web, "release": 99})
			if err != nil || fmt.Sprint(got) != tc.want {
				t.Errorf("Place(%v, web=%d, %d MiB) = %v, %v; want %s", tc.placement, tc.web, tc.memMiB, got, err, tc.want)
			}
		}
		// pier.node_labels: only machines with the labels, whatever the
		// app ran on; none alive with them is an error saying so.
		ssd := app.Release{Manifest: app.Manifest{Pier: app.PierSettings{NodeLabels: map[string]string{"disk": "ssd"}}}}
		a := app.App{Name: "x", Placement: []string{"a"}}
		if got, err := b.c.Place(ctx, a, ssd, map[string]int{"web": 3}); err != nil || fmt.Sprint(got) != "[c]" {
			t.Errorf("Place(disk=ssd, web=3) = %v, %v; want [c]", got, err)
		}
		gpu := app.Release{Manifest: app.Manifest{Pier: app.PierSettings{NodeLabels: map[string]string{"gpu": "yes"}}}}
		if got, err := b.c.Place(ctx, a, gpu, map[string]int{"web": 1}); err == nil || !strings.Contains(err.Error(), "gpu=yes") {
			t.Errorf("Place(gpu=yes) with no such machine = %v, %v; want an error naming the labels", got, err)
		}
		nodes, _ := b.c.Nodes(ctx)
		for _, n := range nodes {
			if n.Name == "c" && n.Labels["disk"] != "ssd" {
				t.Errorf("nodes shows c with labels %v", n.Labels)
			}
		}
	})

	t.Run("app requests", func(t *testing.T) {
		// A router forwards by machine name; the cluster's own endpoints
		// are out of an app request's reach, whatever its path.
		client := &http.Client{Transport: c.c.Transport(), Timeout: 5 * time.Second}
		for _, path := range []string{"/", "/cluster/v1/apply"} {
			req, _ := http.NewRequest(http.MethodPost, "https://a"+path, strings.NewReader("{}"))
			req.Host = "hello.example.com"
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "a serves hello.example.com" + path; string(b) != want {
				t.Errorf("forwarded %s: %q, want %q", path, b, want)
			}
		}
		if _, err := client.Get("https://nobody/"); err == nil || !strings.Contains(err.Error(), "no machine nobody") {
			t.Errorf("to an unknown machine: %v", err)
		}
		// Without a certificate of the cluster, the app protocol is refused.
		raw := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, NextProtos: []string{"pier-apps/1"}}}, Timeout: 5 * time.Second}
		if _, err := raw.Get(a.url() + "/"); err == nil {
			t.Error("an app request without a cluster certificate was served")
		}
		// Nor do the log's endpoints, or raft, take anyone without one.
		anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
		resp, err := anon.Post(a.url()+"/cluster/v1/apply", "application/json", strings.NewReader(`{"type":"CreateApp"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a change posted without a cluster certificate: %s, want 403", resp.Status)
		}
		conn, err := tls.Dial("tcp", a.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"pier-raft/1"}})
		if err == nil {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Read(make([]byte, 1)); err == nil {
				t.Error("a raft connection without a cluster certificate was kept open")
			}
			conn.Close()
		}
		alone := newMachine(t, "alone")
		if _, err := (&http.Client{Transport: alone.c.Transport()}).Get("https://a/"); err == nil {
			t.Error("a machine in no cluster forwarded a request")
		}
	})

	t.Run("leave", func(t *testing.T) {
		// A machine that runs apps moves them first.
		if err := c.c.Apply(ctx, app.SetPlacement{App: "hello", Nodes: []string{"c"}}); err != nil {
			t.Fatal(err)
		}
		if err := c.c.ClusterLeave(ctx, &out); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.store.App(ctx, "hello"); len(got.Placement) != 1 || got.Placement[0] == "c" {
			t.Errorf("hello placed on %v after c left, want on a or b", got.Placement)
		}
		if st, _ := c.c.ClusterStatus(ctx); st.Enabled {
			t.Errorf("c after leaving: %+v", st)
		}
		if _, err := c.store.App(ctx, "hello"); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("c still holds the cluster's app: %v", err)
		}
		waitFor(t, "a sees c gone", func() bool {
			st, _ := a.c.ClusterStatus(ctx)
			return len(st.Voters)+len(st.NonVoters) == 2
		})
		// c may join again, with a new token.
		if _, err := c.c.ClusterJoin(ctx, a.url(), token(t, a, "worker", time.Hour), &out); err != nil {
			t.Fatalf("join again: %v\n%s", err, out.String())
		}
		// As a worker: it does not vote, though a third voter is wanted.
		waitFor(t, "c listed as a worker", func() bool {
			nodes, _ := a.c.Nodes(ctx)
			return len(nodes) == 3 && nodes[2].Role == "worker" && nodes[2].State == "alive"
		})
		if st, _ := a.c.ClusterStatus(ctx); fmt.Sprint(st.Voters) != "[a]" {
			t.Errorf("voters with b and a worker: %v, want [a]", st.Voters)
		}
	})
}

// A machine restarted rejoins its cluster from its directory alone.
func TestRestartRejoins(t *testing.T) {
	ctx := context.Background()
	a, b := newMachine(t, "a"), newMachine(t, "b")
	if _, err := a.c.ClusterInit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.ClusterJoin(ctx, a.url(), token(t, a, "server", time.Hour), io.Discard); err != nil {
		t.Fatal(err)
	}
	state := func(name string) string {
		nodes, _ := a.c.Nodes(ctx)
		for _, n := range nodes {
			if n.Name == name {
				return n.State
			}
		}
		return ""
	}
	waitFor(t, "a sees b alive", func() bool { return state("b") == "alive" })
	if err := b.c.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	before, _ := b.store.AppliedIndex(ctx)
	if err := b.c.Apply(ctx, app.CreateApp{App: app.App{Name: "lost", CreatedAt: time.Now()}}); err == nil {
		t.Error("a change on a stopped member was applied")
	}
	if after, _ := b.store.AppliedIndex(ctx); after != before {
		t.Errorf("a stopped member's store moved from index %d to %d on its own", before, after)
	}
	waitFor(t, "a sees b failed", func() bool { return state("b") == "failed" })
	t.Logf("a saw b failed %v after it stopped", time.Since(stopped).Round(100*time.Millisecond))
	if err := a.c.Apply(ctx, app.CreateApp{App: app.App{Name: "later", CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b catches up", func() bool {
		_, err := b.store.App(ctx, "later")
		return err == nil
	})
	if err := b.c.Apply(ctx, app.CreateApp{App: app.App{Name: "fromb", CreatedAt: time.Now()}}); err != nil {
		t.Fatalf("a change on the restarted follower: %v", err)
	}
	// A release starts on another machine, which streams its progress
	// and says how it ended.
	var out strings.Builder
	if err := a.c.ActivateOn(ctx, "b", app.Release{App: "fromb", Version: 2, Image: "img"}, &out); err != nil || out.String() != "-----> b starts fromb v2\n" {
		t.Errorf("ActivateOn(b) = %v, output %q", err, out.String())
	}
	out.Reset()
	if err := a.c.ActivateOn(ctx, "b", app.Release{App: "fromb", Version: 3, Image: "bad"}, &out); err == nil ||
		err.Error() != "v3 failed its health check on b:\nlast output" || !strings.Contains(out.String(), "starts fromb v3") {
		t.Errorf("ActivateOn(b) of a failing release = %v, output %q", err, out.String())
	}
	if err := a.c.ActivateOn(ctx, "b", app.Release{App: "../etc", Version: 1, Image: "img"}, &out); err == nil {
		t.Error("ActivateOn of a release with a bad app name was accepted")
	}

	// A one-off for an app placed on b runs there, its output and exit
	// status coming back: once a hears b alive again.
	waitFor(t, "a sees b alive again before a one-off", func() bool { return state("b") == "alive" })
	if err := a.c.Apply(ctx, app.SetPlacement{App: "fromb", Nodes: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	code, err := a.c.RunOnce(ctx, app.OneOff{App: "fromb", Image: "img", Command: "echo", Out: &out})
	if err != nil || code != 4 || out.String() != "b runs echo\n" {
		t.Errorf("RunOnce of an app on b from a = %d, %v, output %q; want 4 from b", code, err, out.String())
	}
	// Cancelled, it ends there too.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := a.c.RunOnce(cctx, app.OneOff{App: "fromb", Image: "img", Command: "wait", Out: io.Discard}); err == nil {
		t.Error("a cancelled remote one-off returned no error")
	}
	cancel()

	// A change made on the leader a moment ago is there once CatchUp
	// returns.
	for i := range 20 {
		name := fmt.Sprintf("now%d", i)
		if err := a.c.Apply(ctx, app.CreateApp{App: app.App{Name: name, CreatedAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := b.c.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.App(ctx, name); err != nil {
			t.Fatalf("after CatchUp, b lacks %s: %v", name, err)
		}
	}
	waitFor(t, "a sees b alive again", func() bool { return state("b") == "alive" })
}

// A machine with apps of its own is told to bring them in by pushing.
func TestJoinRefusesAMachineWithApps(t *testing.T) {
	ctx := context.Background()
	a, b := newMachine(t, "a"), newMachine(t, "b")
	if _, err := a.c.ClusterInit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Apply(ctx, app.CreateApp{App: app.App{Name: "mine", CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	_, err := b.c.ClusterJoin(ctx, a.url(), token(t, a, "server", time.Hour), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "1 app(s) (mine)") {
		t.Errorf("join with an app: %v", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testWriter sends logs to the test until it ends.
type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// stop drops what is logged from now on: memberlist's timers may still
// fire once the test is over.
func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

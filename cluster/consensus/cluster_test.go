package consensus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/app"
	"pier/cluster/consensus"
	"pier/cron"
	"pier/node"
	"pier/store"
)

// What the integrator hands the rest of pier in place of the store.
var (
	_ app.Store       = (*consensus.Store)(nil)
	_ node.Store      = (*consensus.Store)(nil)
	_ cron.Store      = (*consensus.Store)(nil)
	_ consensus.Local = (*store.Store)(nil)
)

// testCluster runs machines of one cluster in this process: each with its
// own SQLite store and raft directory in a temporary directory, raft on a
// loopback port and its ForwardHandler on an httptest server.
type testCluster struct {
	t    *testing.T
	tune func(*consensus.Config)

	mu      sync.Mutex
	urls    map[string]string // forward handlers by machine ID
	members map[string]*member
	log     *slog.Logger
}

type member struct {
	id, dir, addr string
	store         *store.Store
	c             *consensus.Consensus
	srv           *httptest.Server
	changes       <-chan app.Applied // the store's watch, from before raft started
	stopWatch     context.CancelFunc
	stopped       bool
}

func newCluster(t *testing.T, tune func(*consensus.Config)) *testCluster {
	tc := &testCluster{t: t, tune: tune, urls: map[string]string{}, members: map[string]*member{}}
	w := &testWriter{t: t}
	tc.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Cleanups run last first: stop the machines, then silence their
	// logs, then remove their directories (registered by this TempDir).
	t.TempDir()
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	t.Cleanup(func() {
		for _, m := range tc.members {
			tc.stop(m)
		}
	})
	return tc
}

// alone gives machine id a store that a single-machine pier changed, before
// it first starts in the cluster.
func (tc *testCluster) alone(id string, changes ...app.Change) {
	tc.t.Helper()
	m := &member{id: id, dir: tc.t.TempDir(), addr: "127.0.0.1:0", stopped: true}
	tc.members[id] = m
	st, err := store.Open(filepath.Join(m.dir, "pier.db"))
	if err != nil {
		tc.t.Fatal(err)
	}
	defer st.Close()
	for _, c := range changes {
		if err := st.Apply(context.Background(), c); err != nil {
			tc.t.Fatal(err)
		}
	}
}

// start starts machine id, again with its data and address if it ran before.
func (tc *testCluster) start(id string) *member {
	tc.t.Helper()
	m := tc.members[id]
	if m == nil {
		m = &member{id: id, dir: tc.t.TempDir(), addr: "127.0.0.1:0"}
		tc.members[id] = m
	}
	st, err := store.Open(filepath.Join(m.dir, "pier.db"))
	if err != nil {
		tc.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.store, m.changes, m.stopWatch, m.stopped = st, st.Watch(ctx), cancel, false
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		tc.t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	cfg := consensus.Config{
		ID: id, Dir: filepath.Join(m.dir, "raft"), Listener: ln, Store: st, Log: tc.log,
		Forwarder: &consensus.HTTPForwarder{URL: func(leader consensus.Server) string {
			tc.mu.Lock()
			defer tc.mu.Unlock()
			return tc.urls[leader.ID] + consensus.ForwardPath
		}},
		HeartbeatTimeout: 300 * time.Millisecond,
		ApplyTimeout:     10 * time.Second,
	}
	if tc.tune != nil {
		tc.tune(&cfg)
	}
	if m.c, err = consensus.Open(cfg); err != nil {
		tc.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(consensus.ForwardPath, m.c.ForwardHandler())
	m.srv = httptest.NewServer(mux)
	tc.mu.Lock()
	tc.urls[id] = m.srv.URL
	tc.mu.Unlock()
	return m
}

func (tc *testCluster) stop(m *member) {
	if m.stopped {
		return
	}
	m.stopped = true
	m.srv.Close()
	if err := m.c.Shutdown(); err != nil {
		tc.t.Errorf("shutdown %s: %v", m.id, err)
	}
	m.stopWatch()
	m.store.Close()
}

// bootstrap starts machine id as a new cluster's only voter and waits
// until it leads.
func (tc *testCluster) bootstrap(id string) *member {
	tc.t.Helper()
	m := tc.start(id)
	if err := m.c.Bootstrap(context.Background()); err != nil {
		tc.t.Fatal(err)
	}
	waitFor(tc.t, "leading after bootstrap", m.c.Leading)
	return m
}

// leader is the running member that leads, once one does.
func (tc *testCluster) leader() *member {
	tc.t.Helper()
	var l *member
	waitFor(tc.t, "a leader", func() bool {
		for _, m := range tc.members {
			if !m.stopped && m.c.Leading() {
				l = m
				return true
			}
		}
		return false
	})
	return l
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasApp waits until m's own store has app name.
func hasApp(t *testing.T, m *member, name string) {
	t.Helper()
	waitFor(t, m.id+" to have app "+name, func() bool {
		_, err := m.store.App(context.Background(), name)
		return err == nil
	})
}

// next returns the next change m's store applied.
func next(t *testing.T, m *member) app.Applied {
	t.Helper()
	select {
	case a := <-m.changes:
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no change applied", m.id)
		return app.Applied{}
	}
}

// quiet checks that m's store applies nothing more for a moment.
func quiet(t *testing.T, m *member) {
	t.Helper()
	select {
	case a := <-m.changes:
		t.Errorf("%s applied %d %T, want nothing more", m.id, a.Index, a.Change)
	case <-time.After(300 * time.Millisecond):
	}
}

func create(name string) app.Change {
	return app.CreateApp{App: app.App{Name: name, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}}
}

// testWriter logs through t until the test ends.
type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

var _ io.Writer = (*testWriter)(nil)

// describe renders an applied change for comparisons.
func describe(a app.Applied) string {
	switch c := a.Change.(type) {
	case app.CreateApp:
		return fmt.Sprintf("%d create %s", a.Index, c.App.Name)
	default:
		return fmt.Sprintf("%d %T", a.Index, a.Change)
	}
}

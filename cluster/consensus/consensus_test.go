package consensus_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"pier/app"
	"pier/cluster/consensus"
)

// A change made on any machine reaches every machine's store and watch at
// the same index: on the leader directly, on a follower through the
// leader's ForwardHandler. Refusals reach the writer as the store's
// sentinels.
func TestChangesReachEveryMachine(t *testing.T) {
	ctx := context.Background()
	tc := newCluster(t, nil)
	a := tc.bootstrap("a")
	b, c := tc.start("b"), tc.start("c")
	if voter, err := a.c.Join(ctx, "b", b.addr); err != nil || voter {
		t.Fatalf("join b: voter %v, %v; want a non-voter of two machines", voter, err)
	}
	if voter, err := a.c.Join(ctx, "c", c.addr); err != nil || !voter {
		t.Fatalf("join c: voter %v, %v; want a voter", voter, err)
	}
	servers, err := a.c.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(slices.DeleteFunc(servers, func(s consensus.Server) bool { return !s.Voter })); got != 3 {
		t.Errorf("voters %+v, want all three", servers)
	}
	members := []*member{a, b, c}

	if err := a.c.Store().Apply(ctx, create("hello")); err != nil {
		t.Fatal(err)
	}
	var want string
	for _, m := range members {
		got := describe(next(t, m))
		if want == "" {
			want = got
		}
		if !strings.HasSuffix(got, "create hello") || got != want {
			t.Errorf("%s applied %q, want %q as on a", m.id, got, want)
		}
		hasApp(t, m, "hello")
	}

	// On a follower: forwarded, and in the follower's own store once
	// Apply returns.
	if err := c.c.Store().Apply(ctx, create("world")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.c.Store().App(ctx, "world"); err != nil {
		t.Errorf("follower's store after its Apply: %v", err)
	}
	for _, m := range members {
		if got := describe(next(t, m)); !strings.HasSuffix(got, "create world") {
			t.Errorf("%s applied %q, want world's creation", m.id, got)
		}
	}

	refused := []struct {
		name   string
		on     *member
		change app.Change
		want   error
	}{
		{"duplicate app on the leader", a, create("hello"), app.ErrExists},
		{"duplicate app on a follower", c, create("hello"), app.ErrExists},
		{"config of a missing app on a follower", b, app.SetConfig{App: "ghost", Config: map[string]string{"A": "1"}}, app.ErrNotFound},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.on.c.Store().Apply(ctx, tt.change)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			// The same words as the store's own.
			if single := tt.on.store.Apply(ctx, tt.change); err.Error() != single.Error() {
				t.Errorf("got %q, want the store's %q", err, single)
			}
		})
	}

	st, err := c.c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ai, _ := a.store.AppliedIndex(ctx)
	if st.Leader.ID != "a" || st.State != "Follower" || len(st.Servers) != 3 || st.AppliedIndex != ai || st.LastContact.IsZero() {
		t.Errorf("c's status %+v; want follower of a, 3 servers, applied %d, a last contact", st, ai)
	}
}

// When the leader stops, the others elect a new one and changes go on; the
// old leader, restarted with its data, skips the entries its store has and
// applies only those it missed.
func TestFailoverAndRestart(t *testing.T) {
	ctx := context.Background()
	tc := newCluster(t, nil)
	a := tc.bootstrap("a")
	for _, id := range []string{"b", "c"} {
		m := tc.start(id)
		if err := a.c.AddVoter(ctx, id, m.addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"one", "two"} {
		if err := a.c.Store().Apply(ctx, create(name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range tc.members {
		hasApp(t, m, "two")
	}
	before, _ := a.store.AppliedIndex(ctx)

	// A change made at once waits for the election.
	tc.stop(a)
	start := time.Now()
	if err := tc.members["b"].c.Store().Apply(ctx, create("three")); err != nil {
		t.Fatal(err)
	}
	l := tc.leader()
	t.Logf("%s leads; a change made as the leader stopped took %v", l.id, time.Since(start).Round(time.Millisecond))

	a = tc.start("a")
	if got := describe(next(t, a)); !strings.HasSuffix(got, "create three") {
		t.Errorf("restarted a applied %q first, want only what it missed (three)", got)
	}
	quiet(t, a)
	after, _ := a.store.AppliedIndex(ctx)
	li, _ := l.store.AppliedIndex(ctx)
	if after <= before || after != li {
		t.Errorf("a's applied index %d (was %d), want the leader's %d", after, before, li)
	}
	if err := a.c.Store().Apply(ctx, create("four")); err != nil {
		t.Fatal(err)
	}
	for _, m := range tc.members {
		hasApp(t, m, "four")
	}
}

// The log is compacted into snapshots; a machine that joins later installs
// the leader's snapshot (its watch gets a Resync), then follows the log,
// and on a restart keeps its store rather than restore the snapshot again.
func TestNewMachineInstallsSnapshot(t *testing.T) {
	ctx := context.Background()
	tc := newCluster(t, func(c *consensus.Config) {
		c.SnapshotThreshold = 4
		c.SnapshotInterval = 50 * time.Millisecond
	})
	a := tc.bootstrap("a")
	for i := range 12 {
		if err := a.c.Store().Apply(ctx, create(strings.Repeat("x", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a snapshot", func() bool {
		st, err := a.c.Stats(ctx)
		return err == nil && st.SnapshotIndex >= 8
	})

	b := tc.start("b")
	if err := a.c.AddNonvoter(ctx, "b", b.addr); err != nil {
		t.Fatal(err)
	}
	if got := next(t, b); got.Change != (app.Resync{}) {
		t.Errorf("b applied %s first, want a Resync from the snapshot", describe(got))
	}
	hasApp(t, b, strings.Repeat("x", 12))
	apps, err := b.store.Apps(ctx)
	if err != nil || len(apps) != 12 {
		t.Errorf("b has %d apps (%v), want 12", len(apps), err)
	}
	if err := b.c.Store().Apply(ctx, create("after")); err != nil {
		t.Fatal(err)
	}
	hasApp(t, a, "after")

	tc.stop(b)
	b = tc.start("b")
	if err := a.c.Store().Apply(ctx, create("later")); err != nil {
		t.Fatal(err)
	}
	if got := describe(next(t, b)); !strings.HasSuffix(got, "create later") {
		t.Errorf("restarted b applied %q first, want the new change only", got)
	}
}

// A pier that ran alone founds a cluster with its state: machines joining
// get it, and the log's indexes go on past the store's.
func TestBootstrapKeepsExistingState(t *testing.T) {
	ctx := context.Background()
	tc := newCluster(t, nil)
	tc.alone("a", create("alone"), app.AddKey{Key: app.Key{Name: "alice", Fingerprint: "SHA256:a", PublicKey: "ssh-ed25519 AAAA"}})
	a := tc.start("a")
	if err := a.c.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.c.Bootstrap(ctx); !errors.Is(err, consensus.ErrBootstrapped) {
		t.Errorf("second Bootstrap: %v, want ErrBootstrapped", err)
	}
	if err := a.c.Store().Apply(ctx, create("together")); err != nil {
		t.Fatal(err)
	}
	b := tc.start("b")
	if _, err := a.c.Join(ctx, "b", b.addr); err != nil {
		t.Fatal(err)
	}
	hasApp(t, b, "alone")
	hasApp(t, b, "together")
	if k, err := b.store.KeyByFingerprint(ctx, "SHA256:a"); err != nil || k.Name != "alice" {
		t.Errorf("b's key: %+v, %v", k, err)
	}
}

// A machine whose store holds state of its own takes no log entries of a
// cluster it joins, rather than mix the two.
func TestMachineWithOwnStateTakesNoEntries(t *testing.T) {
	ctx := context.Background()
	tc := newCluster(t, nil)
	a := tc.bootstrap("a")
	tc.alone("b", create("mine"))
	b := tc.start("b")
	if err := a.c.AddNonvoter(ctx, "b", b.addr); err != nil {
		t.Fatal(err)
	}
	if err := a.c.Store().Apply(ctx, create("theirs")); err != nil {
		t.Fatal(err)
	}
	quiet(t, b)
	if _, err := b.store.App(ctx, "theirs"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("b took the cluster's change: %v", err)
	}
}

// The forward handler takes a change only as a POST of one encoded change
// on the leader.
func TestForwardHandlerRefuses(t *testing.T) {
	ctx := context.Background()
	tc := newCluster(t, nil)
	a := tc.bootstrap("a")
	b := tc.start("b")
	if err := a.c.AddNonvoter(ctx, "b", b.addr); err != nil {
		t.Fatal(err)
	}
	entry, err := app.EncodeChange(create("x"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		on     *member
		method string
		body   string
		status int
	}{
		{"GET", a, http.MethodGet, "", http.StatusMethodNotAllowed},
		{"too large", a, http.MethodPost, `{"type":"CreateApp","change":"` + strings.Repeat("x", consensus.MaxEntrySize) + `"}`, http.StatusRequestEntityTooLarge},
		{"not a change", a, http.MethodPost, `{"type":"Reboot","change":{}}`, http.StatusBadRequest},
		{"on a follower", b, http.MethodPost, string(entry), http.StatusMisdirectedRequest},
		{"a change on the leader", a, http.MethodPost, string(entry), http.StatusOK},
		{"the same change again", a, http.MethodPost, string(entry), http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.on.c.ForwardHandler().ServeHTTP(rec, httptest.NewRequest(tt.method, consensus.ForwardPath, strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tt.status)
			}
		})
	}
}

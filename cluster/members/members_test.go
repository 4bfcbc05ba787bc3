package members_test

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pier/cluster/members"
)

// machine is one member running in the test process, on a free loopback
// port, with a Load the test can change.
type machine struct {
	*membership // embedded under an alias, so that Members stays a method
	name        string
	load        atomic.Pointer[members.Load]
}

type membership = members.Members

func (mc *machine) setLoad(l members.Load) { mc.load.Store(&l) }

// loadOf is a distinct Load for each machine, in figures that survive the
// trip (whole MiB, two decimals).
func loadOf(name string) members.Load {
	n := int64(len(name)) + int64(name[len(name)-1])
	return members.Load{
		Addr:      "127.0.0.1:" + fmt.Sprint(7000+n),
		Role:      "server",
		Arch:      "arm64",
		CPUs:      4,
		MemAvail:  n << 20,
		MemTotal:  4096 << 20,
		DiskAvail: (n + 100) << 30,
		Load1:     0.25,
		Instances: int(n % 7),
	}
}

func start(t *testing.T, name string, key []byte, refresh time.Duration) *machine {
	t.Helper()
	mc := &machine{name: name}
	mc.setLoad(loadOf(name))
	m, err := members.Start(members.Config{
		Name:     name,
		BindAddr: "127.0.0.1:0",
		Key:      key,
		Load:     func() members.Load { return *mc.load.Load() },
		Refresh:  refresh,
		Log:      testLog(t).With("machine", name),
	})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { m.Shutdown() })
	mc.membership = m
	return mc
}

// cluster starts machines named names with one key, the later ones
// joining the first.
func cluster(t *testing.T, refresh time.Duration, names ...string) []*machine {
	t.Helper()
	key := newKey(t)
	var ms []*machine
	for _, name := range names {
		mc := start(t, name, key, refresh)
		if len(ms) > 0 {
			if n, err := mc.Join([]string{ms[0].GossipAddr()}); err != nil || n != 1 {
				t.Fatalf("%s joins: got %d, %v", name, n, err)
			}
		}
		ms = append(ms, mc)
	}
	return ms
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k, err := members.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// waitFor polls cond until it holds or timeout passes, and says how long
// it took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func stateOf(mc *machine, name string) string {
	m, ok := mc.Member(name)
	if !ok {
		return ""
	}
	return m.State
}

func TestThreeMachinesSeeEachOther(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ms := cluster(t, 0, "a", "b", "c")
	took := waitFor(t, 3*time.Second, "all see three alive with their loads", func() bool {
		for _, mc := range ms {
			got := mc.Members()
			if len(got) != 3 {
				return false
			}
			for i, m := range got {
				if m.Name != ms[i].name || m.State != members.Alive || !reflect.DeepEqual(m.Load, loadOf(m.Name)) || m.Gossip != ms[i].GossipAddr() {
					return false
				}
			}
		}
		return true
	})
	t.Logf("three machines converged %v after the joins (%v after the first start)", took, time.Since(start))
	for _, m := range ms[0].Members() {
		if m.Seen.IsZero() || time.Since(m.Seen) > 10*time.Second {
			t.Errorf("%s: Seen %v", m.Name, m.Seen)
		}
	}
}

func TestLoadChangeIsGossiped(t *testing.T) {
	t.Parallel()
	ms := cluster(t, 100*time.Millisecond, "a", "b")
	a, b := ms[0], ms[1]
	waitFor(t, 3*time.Second, "a sees b", func() bool { return stateOf(a, "b") == members.Alive })
	changes := a.Changes()

	l := loadOf("b")
	l.MemAvail, l.Load1, l.Instances = 1234<<20, 3.5, 42
	b.setLoad(l)
	took := waitFor(t, 2*time.Second, "a sees b's new load", func() bool {
		m, _ := a.Member("b")
		return reflect.DeepEqual(m.Load, l)
	})
	t.Logf("a load change reached the other machine in %v (refresh 100ms)", took)
	select {
	case <-changes:
	default:
		t.Error("no signal on Changes for a load change")
	}

	// Churn below what travels (bytes within a MiB) is not gossiped.
	m, _ := b.Member("b")
	seen := m.Seen
	l.MemAvail += 1000
	b.setLoad(l)
	waitFor(t, 2*time.Second, "b's own Seen to move with its refreshes", func() bool {
		m, _ := b.Member("b")
		return m.Seen.After(seen)
	})
	time.Sleep(300 * time.Millisecond)
	if got, _ := a.Member("b"); got.Load.MemAvail != 1234<<20 {
		t.Errorf("MemAvail on a: got %d, want %d", got.Load.MemAvail, 1234<<20)
	}
}

func TestShutdownIsFailure(t *testing.T) {
	t.Parallel()
	ms := cluster(t, 0, "a", "b", "c")
	waitFor(t, 3*time.Second, "all alive", func() bool {
		for _, mc := range ms {
			for _, n := range []string{"a", "b", "c"} {
				if stateOf(mc, n) != members.Alive {
					return false
				}
			}
		}
		return true
	})
	time.Sleep(time.Second) // probing in its stride, not just after the joins
	changes := ms[0].Changes()
	var mu sync.Mutex
	var suspectAfter time.Duration
	stopped := time.Now()
	ms[2].Shutdown()
	go func() {
		for range changes {
			if stateOf(ms[0], "c") == members.Suspect {
				mu.Lock()
				if suspectAfter == 0 {
					suspectAfter = time.Since(stopped)
				}
				mu.Unlock()
			}
		}
	}()
	took := waitFor(t, 8*time.Second, "a and b see c failed", func() bool {
		return stateOf(ms[0], "c") == members.Failed && stateOf(ms[1], "c") == members.Failed
	})
	mu.Lock()
	t.Logf("a stopped machine was failed on both others %v after Shutdown (suspect on a after %v)", took, suspectAfter)
	mu.Unlock()
	if took > 6*time.Second {
		t.Errorf("failure detection took %v, want at most 6s", took)
	}
	for _, mc := range ms[:2] {
		if got := len(mc.Members()); got != 3 {
			t.Errorf("%s knows %d members, want 3 (the failed one kept)", mc.name, got)
		}
		if m, _ := mc.Member("c"); !reflect.DeepEqual(m.Load, loadOf("c")) {
			t.Errorf("%s: c's last load: got %+v, want %+v", mc.name, m.Load, loadOf("c"))
		}
	}
}

func TestLeave(t *testing.T) {
	t.Parallel()
	ms := cluster(t, 0, "a", "b", "c")
	waitFor(t, 3*time.Second, "all see c", func() bool {
		return stateOf(ms[0], "c") == members.Alive && stateOf(ms[1], "c") == members.Alive
	})
	if err := ms[2].Leave(2 * time.Second); err != nil {
		t.Fatalf("leave: %v", err)
	}
	took := waitFor(t, 2*time.Second, "a and b see c left", func() bool {
		return stateOf(ms[0], "c") == members.Left && stateOf(ms[1], "c") == members.Left
	})
	t.Logf("a departure was seen %v after Leave returned", took)
	if got := stateOf(ms[2], "c"); got != members.Left {
		t.Errorf("c sees itself %q, want %q", got, members.Left)
	}
	if err := ms[2].Leave(time.Second); err != nil {
		t.Errorf("second leave: %v", err)
	}
	ms[2].Shutdown()
	time.Sleep(time.Second)
	for _, mc := range ms[:2] {
		if got := stateOf(mc, "c"); got != members.Left {
			t.Errorf("%s sees c %q after its shutdown, want %q", mc.name, got, members.Left)
		}
	}
}

func TestChangesClosedByShutdown(t *testing.T) {
	t.Parallel()
	mc := start(t, "a", newKey(t), 0)
	c := mc.Changes()
	if err := mc.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for range c {
	}
	if _, ok := <-mc.Changes(); ok {
		t.Error("Changes after Shutdown: got an open channel")
	}
	if _, err := mc.Join([]string{"127.0.0.1:1"}); err == nil {
		t.Error("Join after Shutdown: no error")
	}
	if err := mc.Leave(time.Second); err == nil {
		t.Error("Leave after Shutdown: no error")
	}
	if err := mc.Shutdown(); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

func TestStartRefuses(t *testing.T) {
	key := make([]byte, 32)
	load := func() members.Load { return members.Load{} }
	ok := members.Config{Name: "a", BindAddr: "127.0.0.1:0", Key: key, Load: load}
	for _, tc := range []struct {
		name string
		edit func(*members.Config)
		want string
	}{
		{"no key", func(c *members.Config) { c.Key = nil }, "0 bytes, it must be 32"},
		{"AES-128 key", func(c *members.Config) { c.Key = make([]byte, 16) }, "16 bytes, it must be 32"},
		{"33-byte key", func(c *members.Config) { c.Key = make([]byte, 33) }, "33 bytes, it must be 32"},
		{"no name", func(c *members.Config) { c.Name = "" }, "required"},
		{"no bind address", func(c *members.Config) { c.BindAddr = "" }, "required"},
		{"no load", func(c *members.Config) { c.Load = nil }, "required"},
		{"bind without port", func(c *members.Config) { c.BindAddr = "127.0.0.1" }, "BindAddr"},
		{"bad port", func(c *members.Config) { c.BindAddr = "127.0.0.1:70000" }, "BindAddr"},
		{"bad advertise", func(c *members.Config) { c.AdvertiseAddr = "x" }, "AdvertiseAddr"},
		{"negative refresh", func(c *members.Config) { c.Refresh = -time.Second }, "negative Refresh"},
		{"oversize load", func(c *members.Config) {
			c.Load = func() members.Load { return members.Load{Addr: strings.Repeat("x", 600)} }
		}, "more than the 512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			m, err := members.Start(cfg)
			if err == nil {
				m.Shutdown()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// testLog is a logger into t.Log at warn level that falls silent when
// the test ends (memberlist's goroutines may still be winding down).
func testLog(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
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

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

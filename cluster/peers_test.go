package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// WatchPeers follows membership: no addresses in no cluster, the other
// machine's once it joined, none again once it left.
func TestWatchPeersFollowsMembership(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := newMachine(t, "a"), newMachine(t, "b")
	var mu sync.Mutex
	var calls [][]netip.Addr
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.c.WatchPeers(ctx, 50*time.Millisecond, func(addrs []netip.Addr) error {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, addrs)
			return nil
		})
	}()
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(calls) == 0 {
			return "no call"
		}
		return fmt.Sprint(calls[len(calls)-1])
	}
	waitFor(t, "a first call with no peers", func() bool { return last() == "[]" })

	if _, err := a.c.ClusterInit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.ClusterJoin(ctx, a.url(), token(t, a, "server", time.Hour), io.Discard); err != nil {
		t.Fatal(err)
	}
	// Both machines are on 127.0.0.1 here; a leaves itself out by name.
	waitFor(t, "a sees b's address", func() bool { return last() == "[127.0.0.1]" })
	if got := a.c.PeerAddrs(ctx); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("127.0.0.1")}) {
		t.Errorf("PeerAddrs: %v", got)
	}
	if err := b.c.ClusterLeave(ctx, io.Discard); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a drops b's address", func() bool { return last() == "[]" })
	mu.Lock()
	for i := 1; i < len(calls); i++ {
		if slices.Equal(calls[i], calls[i-1]) {
			t.Errorf("call %d repeats %v: set is called on changes only", i, calls[i])
		}
	}
	mu.Unlock()
	cancel()
	<-done
}

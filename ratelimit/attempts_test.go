package ratelimit_test

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pier/ratelimit"
)

func TestAttempts(t *testing.T) {
	l := ratelimit.NewAttempts(3, 200*time.Millisecond)
	for i := range 3 {
		if w := l.Wait("192.0.2.1"); w != 0 {
			t.Fatalf("before failure %d: wait %s, want 0", i+1, w)
		}
		l.Fail("192.0.2.1")
	}
	w := l.Wait("192.0.2.1")
	if w <= 0 || w > 200*time.Millisecond {
		t.Fatalf("after 3 failures: wait %s, want up to the window", w)
	}
	if w := l.Wait("192.0.2.2"); w != 0 {
		t.Errorf("another address waits %s", w)
	}
	time.Sleep(w + 10*time.Millisecond)
	if w := l.Wait("192.0.2.1"); w != 0 {
		t.Errorf("after the window: wait %s, want 0", w)
	}
	if n := l.Tracked(); n != 0 {
		t.Errorf("old failures are kept for %d addresses", n)
	}
}

// Concurrent attempts cannot outrun the limit: each is counted as it is
// let through, not once it failed.
func TestConcurrentAttemptsAreCounted(t *testing.T) {
	l := ratelimit.NewAttempts(10, time.Minute)
	var through atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if l.Attempt("192.0.2.1") == 0 {
				through.Add(1)
				time.Sleep(10 * time.Millisecond) // a bcrypt check
			}
		})
	}
	wg.Wait()
	if n := through.Load(); n != 10 {
		t.Errorf("%d concurrent attempts let through, want 10", n)
	}
	l.Succeeded("192.0.2.9")
	if l.Attempt("192.0.2.9") != 0 {
		t.Error("another address is limited")
	}
}

// An IPv6 client is counted by its /64: it cannot rotate addresses
// within it to guess on.
func TestKeyIPv6By64(t *testing.T) {
	a, b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::7")
	if ratelimit.Key(a) != ratelimit.Key(b) {
		t.Errorf("%s and %s are counted apart: %s, %s", a, b, ratelimit.Key(a), ratelimit.Key(b))
	}
	if c := netip.MustParseAddr("2001:db8:1:3::1"); ratelimit.Key(a) == ratelimit.Key(c) {
		t.Error("another /64 shares the count")
	}
	if k := ratelimit.Key(netip.MustParseAddr("::ffff:192.0.2.1")); k != "192.0.2.1" {
		t.Errorf("a mapped IPv4 address: %s", k)
	}
}

// The addresses kept are bounded, however many fail within the window.
func TestAttemptsBounded(t *testing.T) {
	l := ratelimit.NewAttempts(3, time.Hour)
	for i := range 30000 {
		l.Attempt(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String())
	}
	if n := l.Tracked(); n > 10000 {
		t.Errorf("%d addresses kept", n)
	}
}

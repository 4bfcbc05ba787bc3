// Package ratelimit slows down guessing: it counts failed attempts at a
// secret per client address and says how long an address must wait.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// Attempts limits failed attempts at a secret (the dashboard's password,
// an app's basic auth) per client address: after Max failures within
// Window, Wait says how long the address must wait before it may try
// again. The zero value is not usable: use NewAttempts. Safe for
// concurrent use; it keeps at most a few thousand addresses' failures
// beyond those within the window.
type Attempts struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	fails  map[string][]time.Time
}

// NewAttempts returns a limiter allowing max failures per window.
func NewAttempts(max int, window time.Duration) *Attempts {
	return &Attempts{max: max, window: window, fails: map[string][]time.Time{}}
}

// Attempt reserves one attempt for addr, checking and counting it at
// once so that concurrent attempts cannot outrun the limit: it returns
// how long addr must wait (and counts nothing) if it used its attempts
// up, else 0, and the attempt counts as failed until Succeeded takes it
// back.
func (l *Attempts) Attempt(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	recent := l.recent(addr, now)
	if len(recent) >= l.max {
		return time.Until(recent[len(recent)-l.max].Add(l.window))
	}
	l.bound(now)
	l.fails[addr] = append(recent, now)
	return 0
}

// Succeeded takes back addr's last attempt: it was right.
func (l *Attempts) Succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.fails[addr]; len(f) > 0 {
		if f = f[:len(f)-1]; len(f) == 0 {
			delete(l.fails, addr)
		} else {
			l.fails[addr] = f
		}
	}
}

// maxTracked bounds the addresses kept: past it, stale ones go, then any.
const maxTracked = 10000

// bound keeps the map under maxTracked. The caller holds mu.
func (l *Attempts) bound(now time.Time) {
	if len(l.fails) < maxTracked {
		return
	}
	for k := range l.fails {
		l.recent(k, now)
	}
	// Still full: a tenth goes at once, so that a flood of addresses
	// costs a scan every thousand attempts, not every one.
	for k := range l.fails {
		if len(l.fails) < maxTracked*9/10 {
			break
		}
		delete(l.fails, k)
	}
}

// Key is the address attempts are counted by: an IPv4 address whole, an
// IPv6 one by its /64, which one client typically holds whole.
func Key(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Wait returns how long addr must wait before it may try again; 0 if it
// may now.
func (l *Attempts) Wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(addr, time.Now())
	if len(recent) < l.max {
		return 0
	}
	return time.Until(recent[len(recent)-l.max].Add(l.window))
}

// Fail records a failed attempt from addr.
func (l *Attempts) Fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.bound(now)
	l.fails[addr] = append(l.recent(addr, now), now)
}

// Tracked is how many addresses have failures within the window.
func (l *Attempts) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for k := range l.fails {
		l.recent(k, now)
	}
	return len(l.fails)
}

// recent keeps only addr's failures within the window. The caller holds mu.
func (l *Attempts) recent(addr string, now time.Time) []time.Time {
	f := l.fails[addr]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, addr)
		return nil
	}
	l.fails[addr] = f
	return f
}

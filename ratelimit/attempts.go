// Package ratelimit slows down guessing: it counts failed attempts at a
// secret per client address and says how long an address must wait.
package ratelimit

import (
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
	if len(l.fails) > 10000 {
		for k := range l.fails {
			l.recent(k, now)
		}
	}
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

package web

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(3, 200*time.Millisecond)
	for i := range 3 {
		if w := l.wait("192.0.2.1"); w != 0 {
			t.Fatalf("before failure %d: wait %s, want 0", i+1, w)
		}
		l.fail("192.0.2.1")
	}
	w := l.wait("192.0.2.1")
	if w <= 0 || w > 200*time.Millisecond {
		t.Fatalf("after 3 failures: wait %s, want up to the window", w)
	}
	if w := l.wait("192.0.2.2"); w != 0 {
		t.Errorf("another address waits %s", w)
	}
	time.Sleep(w + 10*time.Millisecond)
	if w := l.wait("192.0.2.1"); w != 0 {
		t.Errorf("after the window: wait %s, want 0", w)
	}
	if len(l.fails) != 0 {
		t.Errorf("old failures are kept: %v", l.fails)
	}
}

func TestSessions(t *testing.T) {
	ss := newSessions(50 * time.Millisecond)
	s, id := ss.create(true)
	if got := ss.get(id); got != s {
		t.Fatalf("get(id) = %p, want %p", got, s)
	}
	if ss.get(id+"x") != nil || ss.get("") != nil {
		t.Error("a wrong ID finds a session")
	}
	if s.validCSRF("") || s.validCSRF(s.csrf+"x") || !s.validCSRF(s.csrf) {
		t.Error("CSRF check")
	}
	time.Sleep(60 * time.Millisecond)
	if ss.get(id) != nil {
		t.Error("an expired session is found")
	}
	for range maxSessions {
		ss.create(false)
	}
	if _, id := ss.create(true); ss.get(id) == nil {
		t.Error("an admin session is refused when visitors filled the store")
	}
	if n := len(ss.m); n > maxSessions {
		t.Errorf("%d sessions kept, want at most %d", n, maxSessions)
	}
}

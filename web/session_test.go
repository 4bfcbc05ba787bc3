package web

import (
	"testing"
	"time"
)

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

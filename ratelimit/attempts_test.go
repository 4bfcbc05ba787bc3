package ratelimit_test

import (
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

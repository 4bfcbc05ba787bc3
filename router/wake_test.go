package router

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Requests for a sleeping app are held while one wake runs, then go to the
// backends the wake set up; a failed wake answers 503 without internals.
func TestSleepingAppIsWokenOnce(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("awake"))
	}))
	defer backend.Close()
	r := newRouter(t)
	r.Set("hello", nil)
	r.SetAsleep("hello", true)
	var wakes atomic.Int32
	r.OnWake(func(ctx context.Context, app string) error {
		wakes.Add(1)
		time.Sleep(100 * time.Millisecond) // the app starts
		r.Set(app, []string{strings.TrimPrefix(backend.URL, "http://")})
		r.SetAsleep(app, false)
		return nil
	})

	var wg sync.WaitGroup
	codes := make(chan int, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("GET", "http://hello.localhost/", nil))
			if w.Body.String() != "awake" {
				codes <- -w.Code
				return
			}
			codes <- w.Code
		}()
	}
	for i := 0; i < 5; i++ { // held requests are activity
		if n, _ := r.Activity("hello"); n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n, _ := r.Activity("hello"); n == 0 {
		t.Error("held requests are not counted in flight")
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a held request got %d", c)
		}
	}
	if n := wakes.Load(); n != 1 {
		t.Errorf("%d wakes for 20 requests, want 1", n)
	}
	if n, last := r.Activity("hello"); n != 0 || time.Since(last) > time.Second {
		t.Errorf("after the requests: %d in flight, last %v", n, last)
	}
}

func TestFailedWakeAnswers503(t *testing.T) {
	r := New(Config{Log: testLog(t), WakeTimeout: time.Second})
	r.Set("hello", nil)
	r.SetAsleep("hello", true)
	r.OnWake(func(ctx context.Context, app string) error {
		return errors.New("container start: exec: /secret/path: permission denied")
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "http://hello.localhost/", nil))
	body := w.Body.String()
	if w.Code != 503 || !strings.Contains(body, "hello is failing to start") || strings.Contains(body, "secret") {
		t.Fatalf("got %d %q, want the 503 page without internals", w.Code, body)
	}

	slow := New(Config{Log: testLog(t), WakeTimeout: 200 * time.Millisecond})
	slow.Set("hello", nil)
	slow.SetAsleep("hello", true)
	slow.OnWake(func(ctx context.Context, app string) error { <-ctx.Done(); return ctx.Err() })
	start := time.Now()
	w = httptest.NewRecorder()
	slow.ServeHTTP(w, httptest.NewRequest("GET", "http://hello.localhost/", nil))
	if w.Code != 503 || time.Since(start) > 2*time.Second {
		t.Fatalf("a wake that never ends: got %d after %s, want 503 after the timeout", w.Code, time.Since(start))
	}
}

// Set keeps the asleep flag; SetAsleep keeps the backends.
func TestSetKeepsSleep(t *testing.T) {
	r := newRouter(t)
	r.Set("hello", []string{"127.0.0.1:1"})
	r.SetAsleep("hello", true)
	r.Set("hello", []string{"127.0.0.1:2"})
	rt := r.lookup("hello.localhost")
	if !rt.asleep || len(rt.backends) != 1 || rt.backends[0].addr != "127.0.0.1:2" {
		t.Fatalf("route after Set on a sleeping app: asleep=%v backends=%v", rt.asleep, rt.backends)
	}
	r.SetAsleep("hello", false)
	if rt := r.lookup("hello.localhost"); rt.asleep || len(rt.backends) != 1 {
		t.Fatalf("route after waking: asleep=%v backends=%d", rt.asleep, len(rt.backends))
	}
}

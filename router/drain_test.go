package router

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// Drain waits for requests in flight to a backend, including ones that
// began before the route moved away from it.
func TestDrainWaitsForInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("done"))
	}))
	defer slow.Close()
	addr := strings.TrimPrefix(slow.URL, "http://")
	r := newRouter(t)
	r.Set("hello", []string{addr})

	answered := make(chan int, 1)
	go func() {
		req := httptest.NewRequest("GET", "http://hello.localhost/", nil)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		answered <- w.Code
	}()
	for r.counter(addr).Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	r.Set("hello", nil) // the route moves away; the request is still in flight

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if err := r.Drain(ctx, addr); err == nil {
		t.Fatal("Drain returned while a request was in flight")
	}
	cancel()
	drained := make(chan error, 1)
	go func() { drained <- r.Drain(context.Background(), addr) }()
	close(release)
	if code := <-answered; code != 200 {
		t.Fatalf("in-flight request got %d, want 200", code)
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Drain did not return after the request finished")
	}
}

func TestListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := newRouter(t)
	// Long enough for a first refused dial on a slow (emulated) machine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.Listening(ctx, addr); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("nothing listening: got %v, want an error saying connection refused", err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	defer ln.Close()
	if err := r.Listening(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.Write([]byte(`{"status":"ok"}`))
		case "/slow":
			time.Sleep(1500 * time.Millisecond)
		case "/host":
			w.Write([]byte(r.Host))
		default:
			http.Error(w, "nope", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	r := newRouter(t)
	tests := []struct {
		name  string
		check app.HealthCheck
		want  string // "" for success, else part of the error
	}{
		{"ok", app.HealthCheck{Path: "/health"}, ""},
		{"content found", app.HealthCheck{Path: "/health", Content: `"ok"`}, ""},
		{"content missing", app.HealthCheck{Path: "/health", Content: "ready"}, `does not contain "ready"`},
		{"status 503", app.HealthCheck{Path: "/other"}, "status 503"},
		{"timeout", app.HealthCheck{Path: "/slow", Timeout: 1}, "no answer within 1s"},
		{"app's host", app.HealthCheck{Path: "/host", Content: "hello.localhost"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Probe(context.Background(), "hello", addr, tt.check)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingBackend serves h and counts the connections the router opens.
func countingBackend(t *testing.T, h http.HandlerFunc) (addr string, conns *atomic.Int32, srv *httptest.Server) {
	conns = &atomic.Int32{}
	srv = httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), conns, srv
}

func proxyGet(t *testing.T, front, host, method, path string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+front+path, body)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// GETs and HEADs reuse kept-alive connections to the backend, whether the
// response has a length or is chunked; other requests work as well.
func TestBackendConnectionsAreReused(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	addr, conns, _ := countingBackend(t, func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/chunked":
			w.Write([]byte("part 1, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part 2"))
		case "/echo":
			b, _ := io.ReadAll(req.Body)
			fmt.Fprintf(w, "%s %s", req.Method, b)
		default:
			fmt.Fprintf(w, "%s %s", req.Method, req.URL.Path)
		}
	})
	r.Set("hello", []string{addr})
	for i := range 50 {
		path := []string{"/a", "/chunked"}[i%2]
		want := map[string]string{"/a": "GET /a", "/chunked": "part 1, part 2"}[path]
		if code, body := proxyGet(t, front, "hello.localhost", "GET", path, nil); code != 200 || body != want {
			t.Fatalf("GET %s: %d %q, want %q", path, code, body, want)
		}
	}
	if code, _ := proxyGet(t, front, "hello.localhost", "HEAD", "/a", nil); code != 200 {
		t.Fatalf("HEAD: %d", code)
	}
	if code, body := proxyGet(t, front, "hello.localhost", "POST", "/echo", strings.NewReader("data")); code != 200 || body != "POST data" {
		t.Fatalf("POST: %d %q", code, body)
	}
	// One connection for the sequential GETs and HEAD, one for the POST
	// (through http.Transport).
	if n := conns.Load(); n > 2 {
		t.Errorf("the backend saw %d connections, want at most 2", n)
	}
}

// A kept-alive connection the backend closed while idle is found out when
// used: the GET is sent again on a new one, and the client sees nothing.
func TestBackendClosedIdleConnection(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	addr, conns, srv := countingBackend(t, func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, "ok")
	})
	r.Set("hello", []string{addr})
	if code, body := proxyGet(t, front, "hello.localhost", "GET", "/", nil); code != 200 || body != "ok" {
		t.Fatalf("first GET: %d %q", code, body)
	}
	srv.CloseClientConnections() // as an app's idle timeout would
	time.Sleep(50 * time.Millisecond)
	for i := range 3 {
		if code, body := proxyGet(t, front, "hello.localhost", "GET", "/", nil); code != 200 || body != "ok" {
			t.Fatalf("GET %d after the backend closed its connections: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("the backend saw %d connections, want 2", n)
	}
}

// A client that goes away in the middle of a response leaves no
// half-read connection in the pool: the next request gets a whole answer.
func TestBackendAbandonedResponse(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	addr, _, _ := countingBackend(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/slow" {
			w.Header().Set("Content-Length", "1000000")
			w.Write([]byte(strings.Repeat("x", 64<<10)))
			w.(http.Flusher).Flush()
			select {
			case <-req.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		io.WriteString(w, "whole")
	})
	r.Set("hello", []string{addr})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+front+"/slow", nil)
	req.Host = "hello.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 100))
	cancel()
	resp.Body.Close()
	time.Sleep(50 * time.Millisecond)
	for range 5 {
		if code, body := proxyGet(t, front, "hello.localhost", "GET", "/", nil); code != 200 || body != "whole" {
			t.Fatalf("GET after an abandoned response: %d %q", code, body)
		}
	}
}

// Draining a backend closes the router's idle connections to it: it is
// about to stop, and its connections must not linger.
func TestDrainClosesIdleConnections(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	r.Set("hello", []string{addr})
	if code, _ := proxyGet(t, front, "hello.localhost", "GET", "/", nil); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	r.Set("hello", nil)
	if err := r.Drain(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection to the drained backend is still open")
	}
}

package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingListener hands out connections that count their writes.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*countingConn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, cc)
	l.mu.Unlock()
	return cc, nil
}

// writes is the number of writes on every connection so far.
func (l *countingListener) writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.conns {
		n += c.count()
	}
	return n
}

type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

func TestHeldConn(t *testing.T) {
	tests := []struct {
		name       string
		hold       bool
		writes     []int // sizes written
		wantWrites []int // sizes that reached the connection, after release
	}{
		{"not held: each write leaves", false, []int{10, 20}, []int{10, 20}},
		{"held: one write", true, []int{200, 4096, 30}, []int{4326}},
		{"past maxHeld: what was held, then the rest", true, []int{maxHeld - 100, 4096}, []int{maxHeld - 100, 4096}},
		{"held, nothing written", true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			go io.Copy(io.Discard, client)
			cc := &countingConn{Conn: server}
			hc := &heldConn{Conn: cc, buffers: &sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}}
			if tt.hold {
				hc.hold()
			}
			for _, n := range tt.writes {
				if got, err := hc.Write(make([]byte, n)); got != n || err != nil {
					t.Fatalf("Write(%d bytes): %d, %v", n, got, err)
				}
			}
			if err := hc.release(); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, w := range cc.writes {
				got = append(got, len(w))
			}
			if len(got) != len(tt.wantWrites) {
				t.Fatalf("got writes of %v bytes, want %v", got, tt.wantWrites)
			}
			for i := range got {
				if got[i] != tt.wantWrites[i] {
					t.Errorf("got writes of %v bytes, want %v", got, tt.wantWrites)
				}
			}
			if hc.holding() {
				t.Error("still holding after release")
			}
		})
	}
}

// A proxied response of known length leaves in one write whole, up to
// maxHeld; a larger one, and one of unknown length (a stream, flushed as it
// comes), arrive whole too.
func TestHeldResponses(t *testing.T) {
	tests := []struct {
		name       string
		size       int
		chunked    bool // sent without a Content-Length
		wantWrites int  // on the client's connection; 0: not checked
	}{
		{"small", 100, false, 1},
		{"headers and 4 KiB", 4 << 10, false, 1},
		{"just under maxHeld", maxHeld - 1024, false, 1},
		{"past maxHeld", 100 << 10, false, 0},
		{"unknown length", 100 << 10, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Repeat("p", tt.size)
			r := newRouter(t)
			r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, _ *http.Request) {
				if !tt.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				io.WriteString(w, body)
			})})
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := &countingListener{Listener: inner}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Serve(ctx, ln) }()
			t.Cleanup(func() { cancel(); <-done })

			code, got := get(t, inner.Addr().String(), "hello.localhost", "/", nil)
			if code != 200 || got != body {
				t.Fatalf("got %d and %d bytes, want 200 and %d bytes", code, len(got), len(body))
			}
			if n := ln.writes(); tt.wantWrites != 0 && n != tt.wantWrites {
				t.Errorf("got %d writes for the response, want %d", n, tt.wantWrites)
			}
		})
	}
}

// What must leave at once is not held: an informational 103 before the
// final answer, and the 100 Continue a client waits for before its body.
func TestHeldNotForInterimResponses(t *testing.T) {
	t.Run("early hints", func(t *testing.T) {
		hinted := make(chan struct{})
		r := newRouter(t)
		r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			select {
			case <-hinted:
			case <-time.After(5 * time.Second):
			}
			io.WriteString(w, "page")
		})})
		front := serve(t, r)
		var once sync.Once
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				once.Do(func() { close(hinted) })
			}
			return nil
		}}
		req, _ := http.NewRequest(http.MethodGet, "http://"+front+"/", nil)
		req.Host = "hello.localhost"
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the 103 arrived only with the answer (%s)", took)
		}
	})
	t.Run("100 continue", func(t *testing.T) {
		r := newRouter(t)
		r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
			io.Copy(w, req.Body)
		})})
		front := serve(t, r)
		c := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}
		req, _ := http.NewRequest(http.MethodPost, "http://"+front+"/", strings.NewReader("upload"))
		req.Host = "hello.localhost"
		req.Header.Set("Expect", "100-continue")
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "upload" {
			t.Errorf("got %q, want %q", got, "upload")
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the body waited %s for its 100 Continue", took)
		}
	})
}

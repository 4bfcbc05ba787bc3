package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testWriter sends log output to the test, and drops it once the test is
// over (an upgraded connection's handler may log after Serve returned).
type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Output().Write(p)
	}
	return len(p), nil
}

func testLog(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newRouter(t *testing.T) *Router {
	return New(Config{Log: testLog(t)})
}

// serve runs r on a loopback listener until the test ends, and checks that
// Serve then returns nil. It returns the listener's address.
func serve(t *testing.T, r *Router) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// namedBackend starts an app instance that answers with its name.
func namedBackend(t *testing.T, name string) string {
	return backendFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, name)
	})
}

func backendFunc(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var client = &http.Client{Timeout: 5 * time.Second}

// get asks front for path as host, and returns the status and body.
func get(t *testing.T, front, host, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+front+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s as %s: %v", path, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s as %s: read body: %v", path, host, err)
	}
	return resp.StatusCode, string(body)
}

func TestRoutesByHost(t *testing.T) {
	r := newRouter(t)
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.Set("world", []string{namedBackend(t, "world")})
	front := serve(t, r)

	tests := []struct {
		name, host string
		status     int
		body       string
	}{
		{"exact", "hello.localhost", 200, "hello"},
		{"second app", "world.localhost", 200, "world"},
		{"upper case", "HELLO.LocalHost", 200, "hello"},
		{"with port", "hello.localhost:8080", 200, "hello"},
		{"trailing dot", "hello.localhost.", 200, "hello"},
		{"unknown app", "nope.localhost", 404, ""},
		{"nested label", "a.hello.localhost", 404, ""},
		{"bare domain", "localhost", 404, ""},
		{"empty label", ".localhost", 404, ""},
		{"other domain", "hello.example.com", 404, ""},
		{"domain as prefix", "hello.localhost.example.com", 404, ""},
		{"ip address", "127.0.0.1", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, front, tt.host, "/", nil)
			if status != tt.status {
				t.Fatalf("status: got %d, want %d", status, tt.status)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body: got %q, want %q", body, tt.body)
			}
		})
	}
}

func TestNotFoundRevealsNothing(t *testing.T) {
	r := newRouter(t)
	addr := namedBackend(t, "hello")
	r.Set("hello", []string{addr})
	front := serve(t, r)

	req, _ := http.NewRequest(http.MethodGet, "http://"+front+"/", nil)
	req.Host = "nope.localhost"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	if got, want := resp.StatusCode, http.StatusNotFound; got != want {
		t.Errorf("status: got %d, want %d", got, want)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("Content-Type: got %q, want %q", got, want)
	}
	if got := resp.Header.Get("Server"); got != "" {
		t.Errorf("Server: got %q, want none", got)
	}
	if !strings.Contains(string(body), "No app here") {
		t.Errorf("body %q does not say %q", body, "No app here")
	}
	for _, secret := range []string{"hello", addr, "127.0.0.1", "nope", "go1", "Go ", "pier", "error"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("body %q reveals %q", body, secret)
		}
	}
}

func TestSetReplacesAndDelete(t *testing.T) {
	r := newRouter(t)
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	front := serve(t, r)

	steps := []struct {
		name   string
		change func()
		status int
		body   string
	}{
		{"before set", func() {}, 404, ""},
		{"set", func() { r.Set("hello", []string{a}) }, 200, "a"},
		{"replace", func() { r.Set("hello", []string{b}) }, 200, "b"},
		{"no backends", func() { r.Set("hello", nil) }, 502, ""},
		{"delete", func() { r.Delete("hello") }, 404, ""},
		{"delete again", func() { r.Delete("hello") }, 404, ""},
		{"set after delete", func() { r.Set("hello", []string{a}) }, 200, "a"},
	}
	for _, s := range steps {
		s.change()
		status, body := get(t, front, "hello.localhost", "/", nil)
		if status != s.status {
			t.Fatalf("%s: status: got %d, want %d", s.name, status, s.status)
		}
		if s.body != "" && body != s.body {
			t.Errorf("%s: body: got %q, want %q", s.name, body, s.body)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	r := newRouter(t)
	r.Set("hello", []string{namedBackend(t, "a"), namedBackend(t, "b"), namedBackend(t, "c")})
	front := serve(t, r)

	seen := map[string]int{}
	for range 30 {
		_, body := get(t, front, "hello.localhost", "/", nil)
		seen[body]++
	}
	for _, name := range []string{"a", "b", "c"} {
		if got, want := seen[name], 10; got != want {
			t.Errorf("requests to %s: got %d, want %d (all: %v)", name, got, want, seen)
		}
	}
}

func TestUnavailablePage(t *testing.T) {
	dead := deadAddr(t)
	tests := []struct {
		name  string
		addrs []string
	}{
		{"dead backend", []string{dead}},
		{"no backends", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t)
			r.Set("hello", tt.addrs)
			front := serve(t, r)

			status, body := get(t, front, "hello.localhost", "/", nil)
			if got, want := status, http.StatusBadGateway; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
			if want := "hello is not answering right now"; !strings.Contains(body, want) {
				t.Errorf("body %q does not say %q", body, want)
			}
			for _, secret := range []string{dead, "127.0.0.1", "dial", "refused", "error", "instances"} {
				if strings.Contains(body, secret) {
					t.Errorf("body %q reveals %q", body, secret)
				}
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	r := newRouter(t)
	r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"Host":              req.Host,
			"X-Forwarded-For":   strings.Join(req.Header.Values("X-Forwarded-For"), "|"),
			"X-Forwarded-Host":  strings.Join(req.Header.Values("X-Forwarded-Host"), "|"),
			"X-Forwarded-Proto": strings.Join(req.Header.Values("X-Forwarded-Proto"), "|"),
			"Forwarded":         req.Header.Get("Forwarded"),
			"X-Real-Ip":         req.Header.Get("X-Real-Ip"),
		})
	})})
	front := serve(t, r)

	spoofed := http.Header{
		"X-Forwarded-For":   {"6.6.6.6"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=6.6.6.6;proto=https"},
		"X-Real-Ip":         {"6.6.6.6"},
	}
	tests := []struct {
		name   string
		header http.Header
	}{
		{"plain", nil},
		{"spoofed", spoofed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, front, "Hello.localhost:8080", "/", tt.header)
			var got map[string]string
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("backend answer %q: %v", body, err)
			}
			want := map[string]string{
				"Host":              "Hello.localhost:8080",
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "Hello.localhost:8080",
				"X-Forwarded-Proto": "http",
				"Forwarded":         "",
				"X-Real-Ip":         "",
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: got %q, want %q", k, got[k], w)
				}
			}
		})
	}
}

func TestServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	r := newRouter(t)
	r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-next:
		case <-req.Context().Done():
			return
		}
		io.WriteString(w, "data: two\n\n")
	})})
	front := serve(t, r)

	req, _ := http.NewRequest(http.MethodGet, "http://"+front+"/events", nil)
	req.Host = "hello.localhost"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	readEvent := func() string {
		t.Helper()
		var ev strings.Builder
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				t.Fatalf("read event: %v (so far %q)", err, ev.String())
			}
			if line == "\n" {
				return ev.String()
			}
			ev.WriteString(line)
		}
	}
	// The backend sends the second event only after the first arrived here.
	if got, want := readEvent(), "data: one\n"; got != want {
		t.Errorf("first event: got %q, want %q", got, want)
	}
	close(next)
	if got, want := readEvent(), "data: two\n"; got != want {
		t.Errorf("second event: got %q, want %q", got, want)
	}
}

// wsAccept computes Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeFrame writes a final text frame shorter than 126 bytes, masked when
// mask is set (clients must mask, servers must not).
func writeFrame(w io.Writer, payload string, mask []byte) error {
	b1 := byte(len(payload))
	if mask != nil {
		b1 |= 0x80
	}
	frame := append([]byte{0x81, b1}, mask...)
	for i := range len(payload) {
		c := payload[i]
		if mask != nil {
			c ^= mask[i%4]
		}
		frame = append(frame, c)
	}
	_, err := w.Write(frame)
	return err
}

// readFrame reads a frame shorter than 126 bytes and returns its payload.
func readFrame(r io.Reader) (string, error) {
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return "", err
	}
	n := int(head[1] & 0x7f)
	if n >= 126 {
		return "", errors.New("frame too long for this test")
	}
	var mask [4]byte
	masked := head[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return "", err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return "", err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return string(payload), nil
}

// wsEcho is a WebSocket server that echoes text frames, handshake by hand.
func wsEcho(w http.ResponseWriter, req *http.Request) {
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want a websocket", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		wsAccept(req.Header.Get("Sec-WebSocket-Key")))
	if err := brw.Flush(); err != nil {
		return
	}
	for {
		msg, err := readFrame(brw)
		if err != nil {
			return
		}
		if err := writeFrame(conn, msg, nil); err != nil {
			return
		}
	}
}

// dialWebSocket opens a WebSocket to host through front and returns the
// connection after a checked handshake.
func dialWebSocket(t *testing.T, front, host string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", host, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if got, want := resp.StatusCode, http.StatusSwitchingProtocols; got != want {
		t.Fatalf("handshake status: got %d, want %d", got, want)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("Sec-WebSocket-Accept: got %q, want %q", got, want)
	}
	return conn, br
}

func TestWebSocket(t *testing.T) {
	r := newRouter(t)
	r.Set("hello", []string{backendFunc(t, wsEcho)})
	front := serve(t, r)
	conn, br := dialWebSocket(t, front, "hello.localhost")

	for _, msg := range []string{"hi", "there", ""} {
		if err := writeFrame(conn, msg, []byte{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		got, err := readFrame(br)
		if err != nil {
			t.Fatalf("read echo of %q: %v", msg, err)
		}
		if got != msg {
			t.Errorf("echo: got %q, want %q", got, msg)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAccessLog(t *testing.T) {
	var logs syncBuffer
	r := New(Config{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.Set("down", nil)
	front := serve(t, r)

	tests := []struct {
		name, host, path string
		want             map[string]any
	}{
		{"proxied", "hello.localhost", "/x?q=1", map[string]any{
			"msg": "request", "component": "router", "host": "hello.localhost",
			"method": "GET", "path": "/x", "status": 200.0, "bytes": 5.0,
		}},
		{"unknown host", "nope.localhost", "/", map[string]any{
			"host": "nope.localhost", "status": 404.0, "err": nil,
		}},
		{"no backends", "down.localhost", "/", map[string]any{
			"status": 502.0, "err": "app has no web instances",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.String())
			get(t, front, tt.host, tt.path, nil)
			// The line is written after the answer is sent: wait for it.
			var line string
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if line = logs.String()[before:]; strings.HasSuffix(line, "\n") {
					break
				}
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			for k, want := range tt.want {
				if fmt.Sprint(got[k]) != fmt.Sprint(want) {
					t.Errorf("%s: got %q, want %q", k, fmt.Sprint(got[k]), fmt.Sprint(want))
				}
			}
			if _, ok := got["duration"]; !ok {
				t.Errorf("no duration in %q", line)
			}
		})
	}
}

func TestReady(t *testing.T) {
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
	}
	tests := []struct {
		name    string
		addr    func(t *testing.T) string
		wantErr string
	}{
		{"ok", func(t *testing.T) string { return backendFunc(t, status(200)) }, ""},
		{"not found", func(t *testing.T) string { return backendFunc(t, status(404)) }, ""},
		{"redirect not followed", func(t *testing.T) string {
			return backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
				http.Redirect(w, req, "http://127.0.0.1:1/", http.StatusFound)
			})
		}, ""},
		{"asks for the app's host", func(t *testing.T) string {
			return backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
				if req.Host != "hello.localhost" {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
		}, ""},
		{"server error", func(t *testing.T) string { return backendFunc(t, status(503)) },
			"hello did not answer on /: status 503"},
		{"nothing listening", deadAddr,
			"hello did not answer on /: connection refused"},
		{"never answers", func(t *testing.T) string {
			return backendFunc(t, func(w http.ResponseWriter, req *http.Request) { <-req.Context().Done() })
		}, "hello did not answer on /: no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := r.Ready(ctx, "hello", tt.addr(t))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Ready: got %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestReadyWaitsForLateBackend(t *testing.T) {
	addr := deadAddr(t)
	started := make(chan time.Time, 1)
	servers := make(chan *http.Server, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
		servers <- srv
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen late on %s: %v", addr, err)
			close(started)
			return
		}
		started <- time.Now()
		srv.Serve(ln)
	}()
	t.Cleanup(func() { (<-servers).Close() })

	r := newRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Ready(ctx, "hello", addr); err != nil {
		t.Fatalf("Ready: got %q, want nil", err)
	}
	at, ok := <-started
	if !ok {
		return
	}
	if lag := time.Since(at); lag > time.Second {
		t.Errorf("Ready returned %s after the backend started listening, want well under a second", lag)
	}
}

func TestSetWhileServing(t *testing.T) {
	r := newRouter(t)
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	r.Set("hello", []string{a})
	front := serve(t, r)

	stop := make(chan struct{})
	changed := make(chan struct{})
	go func() {
		defer close(changed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 5 {
			case 0:
				r.Set("hello", []string{a})
			case 1:
				r.Set("hello", []string{b})
			case 2:
				r.Set("hello", []string{a, b})
			case 3:
				r.Set("hello", nil)
			case 4:
				r.Delete("hello")
			}
			r.Set(fmt.Sprintf("other%d", i%7), []string{b})
		}
	}()

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				req, _ := http.NewRequest(http.MethodGet, "http://"+front+"/", nil)
				req.Host = "hello.localhost"
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("GET: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 200 && (string(body) == "a" || string(body) == "b"):
				case resp.StatusCode == 502, resp.StatusCode == 404:
				default:
					t.Errorf("got %d %q, want 200 from a or b, 502 or 404", resp.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-changed
}

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	r := newRouter(t)
	r.Set("slow", []string{backendFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		<-release
		io.WriteString(w, "done")
	})})
	r.Set("ws", []string{backendFunc(t, wsEcho)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, ln) }()

	ws, wsr := dialWebSocket(t, front, "ws.localhost")
	type answer struct {
		status int
		body   string
	}
	slow := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+front+"/", nil)
		req.Host = "slow.localhost"
		resp, err := client.Do(req)
		if err != nil {
			slow <- answer{body: err.Error()}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- answer{resp.StatusCode, string(body)}
	}()
	time.Sleep(50 * time.Millisecond) // let the slow request reach the backend

	cancel()
	time.Sleep(50 * time.Millisecond)
	close(release)

	if got, want := <-slow, (answer{200, "done"}); got != want {
		t.Errorf("request in flight at shutdown: got %v, want %v", got, want)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: got %q, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running 5s after shutdown began")
	}
	if _, err := readFrame(wsr); err == nil {
		t.Error("WebSocket still open after Serve returned")
	}
	ws.Close()
}

func TestURL(t *testing.T) {
	log := testLog(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default domain", Config{}, "http://hello.localhost"},
		{"domain", Config{Domain: "Apps.Example.com."}, "http://hello.apps.example.com"},
		{"port 80", Config{Domain: "example.com", PublicPort: 80}, "http://hello.example.com"},
		{"other port", Config{Domain: "example.com", PublicPort: 8080}, "http://hello.example.com:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Log = log
			if got := New(tt.cfg).URL("hello"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

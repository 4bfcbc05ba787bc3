package router

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMaxBodyBytes(t *testing.T) {
	tests := []struct {
		name     string
		limit    int64 // Config.MaxBodyBytes
		size     int   // bytes sent
		chunked  bool  // sent without a Content-Length
		wantCode int
		wantApp  string // what the app read; "" if the request never reached it
	}{
		{"at the limit", 100, 100, false, 200, "100 bytes"},
		{"content-length over the limit", 100, 101, false, 413, ""},
		{"chunked at the limit", 100, 100, true, 200, "100 bytes"},
		{"chunked over the limit", 64 << 10, 1 << 20, true, 413, "a failed read"},
		{"no limit", -1, 1 << 20, false, 200, "1048576 bytes"},
		{"no limit, chunked", -1, 1 << 20, true, 200, "1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			read := make(chan string, 1)
			r := New(Config{Log: testLog(t), MaxBodyBytes: tt.limit})
			r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
				calls.Add(1)
				n, err := io.Copy(io.Discard, req.Body)
				if err != nil {
					read <- "a failed read"
					return
				}
				read <- fmt.Sprintf("%d bytes", n)
				io.WriteString(w, "ok")
			})})
			front := serve(t, r)

			var body io.Reader = strings.NewReader(strings.Repeat("x", tt.size))
			if tt.chunked {
				body = io.MultiReader(body) // a reader of unknown length
			}
			req, err := http.NewRequest(http.MethodPost, "http://"+front+"/upload", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "hello.localhost"
			if tt.chunked {
				req.ContentLength = -1
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("got status %d, want %d (%q)", resp.StatusCode, tt.wantCode, page)
			}
			if tt.wantCode == 413 {
				if want := sizeText(tt.limit); !strings.Contains(string(page), want) {
					t.Errorf("got page %q, want the limit %q in it", page, want)
				}
			}
			if tt.wantApp == "" {
				if n := calls.Load(); n != 0 {
					t.Errorf("the app got %d requests, want none", n)
				}
				return
			}
			select {
			case got := <-read:
				if got != tt.wantApp {
					t.Errorf("the app read %q, want %q", got, tt.wantApp)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("the app read nothing, want %q", tt.wantApp)
			}
		})
	}
}

// Without a setting the limit is DefaultMaxBodyBytes, and a Content-Length
// over it is refused before any of the body is sent.
func TestMaxBodyBytesDefault(t *testing.T) {
	var calls atomic.Int32
	r := newRouter(t)
	r.Set("hello", []string{backendFunc(t, func(http.ResponseWriter, *http.Request) { calls.Add(1) })})
	front := serve(t, r)
	conn, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: hello.localhost\r\nContent-Length: %d\r\n\r\n", DefaultMaxBodyBytes+1)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(page), "100 MiB") {
		t.Errorf("got %d %q, want 413 naming 100 MiB", resp.StatusCode, page)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the app got %d requests, want none", n)
	}
}

func TestSizeText(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{100 << 20, "100 MiB"},
		{1 << 30, "1 GiB"},
		{512 << 10, "512 KiB"},
		{1000, "1000 bytes"},
		{1<<20 + 1, "1048577 bytes"},
	}
	for _, tt := range tests {
		if got := sizeText(tt.n); got != tt.want {
			t.Errorf("sizeText(%d): got %q, want %q", tt.n, got, tt.want)
		}
	}
}

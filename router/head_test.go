package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strings"
	"testing"
	"time"
)

// rawBackend accepts connections and, for each request it reads, calls
// answer with the connection until answer returns or the connection
// breaks.
func rawBackend(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				answer(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// An app cannot hold the router with its response head: one endless, one
// dripping, one of endless informational responses each get the client a
// 502 in bounded time, on the direct path (GET) and the other (POST), the
// client gets no more informational responses than the bound, and the
// router's memory does not grow with what the app sends.
func TestResponseHeadBounded(t *testing.T) {
	defer func(d time.Duration) { responseHeadTimeout = d }(responseHeadTimeout)
	responseHeadTimeout = 500 * time.Millisecond
	chunk := strings.Repeat("a", 64<<10)
	apps := map[string]func(net.Conn){
		"endless-line": func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Endless: ")
			for {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
		},
		"endless-fields": func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for {
				if _, err := io.WriteString(c, "X-More: "+chunk[:1000]+"\r\n"); err != nil {
					return
				}
			}
		},
		"drip": func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for {
				if _, err := io.WriteString(c, "X"); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		"hints": func(c net.Conn) {
			for {
				if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"); err != nil {
					return
				}
			}
		},
	}
	r := newRouter(t)
	front := serve(t, r)
	for name, answer := range apps {
		r.Set(name, []string{rawBackend(t, answer)})
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	client := &http.Client{Timeout: 20 * time.Second}
	for name := range apps {
		for _, method := range []string{"GET", "POST"} {
			req, _ := http.NewRequest(method, "http://"+front+"/", strings.NewReader(map[bool]string{true: "body"}[method == "POST"]))
			req.Host = name + ".localhost"
			hints := 0 // the informational responses the client got
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { hints++; return nil },
			}))
			start := time.Now()
			resp, err := client.Do(req)
			if hints > max1xxResponses+1 {
				t.Errorf("%s %s: the client got %d informational responses, want at most %d", method, name, hints, max1xxResponses+1)
			}
			if err != nil {
				t.Errorf("%s %s: %v", method, name, err)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("%s %s: %d, want 502", method, name, resp.StatusCode)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s %s: the 502 took %s", method, name, took)
			}
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Errorf("the router's heap grew by %d MiB", grew>>20)
	}
	// What reading the heads took, garbage once they were refused: each
	// is bounded by maxResponseHeaderBytes, not by the time it had.
	if took := after.TotalAlloc - before.TotalAlloc; took > 128<<20 {
		t.Errorf("the router allocated %d MiB for %d requests whose heads were cut at %d KiB", took>>20, 2*len(apps), maxResponseHeaderBytes>>10)
	} else {
		t.Logf("%d MiB allocated for the %d requests", took>>20, 2*len(apps))
	}
}

package router

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLog keeps each Write it gets apart.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writeLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

// With Config.AccessLog the lines of a second's requests reach it in one
// write, within the second, in slog's text format.
func TestAccessLogBatches(t *testing.T) {
	var out writeLog
	r := New(Config{Log: testLog(t), AccessLog: &out})
	r.Set("hello", []string{namedBackend(t, "hello")})
	front := serve(t, r)

	start := time.Now()
	for _, path := range []string{"/a", "/b", "/c"} {
		get(t, front, "hello.localhost", path, nil)
	}
	if got := out.all(); len(got) != 0 {
		t.Fatalf("written at once: %q", got)
	}
	var got []string
	for time.Since(start) < 3*time.Second && len(got) == 0 {
		time.Sleep(10 * time.Millisecond)
		got = out.all()
	}
	if len(got) != 1 {
		t.Fatalf("got %d writes (%q), want 1", len(got), got)
	}
	if took := time.Since(start); took > batchDelay+500*time.Millisecond {
		t.Errorf("lines written after %s, want within %s", took, batchDelay)
	}
	lines := strings.Split(strings.TrimSuffix(got[0], "\n"), "\n")
	for i, path := range []string{"/a", "/b", "/c"} {
		if i >= len(lines) {
			t.Fatalf("got %d lines, want 3: %q", len(lines), got[0])
		}
		for _, want := range []string{"msg=request", "component=router", "host=hello.localhost", "path=" + path, "status=200", "bytes=5", "duration="} {
			if !strings.Contains(lines[i], want) {
				t.Errorf("line %d: got %q, want %q in it", i, lines[i], want)
			}
		}
	}
}

// What is still in a batch is written when Serve returns.
func TestAccessLogFlushedOnShutdown(t *testing.T) {
	var out writeLog
	r := New(Config{Log: testLog(t), AccessLog: &out})
	r.Set("hello", []string{namedBackend(t, "hello")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	get(t, ln.Addr().String(), "hello.localhost", "/last", nil)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	got := strings.Join(out.all(), "")
	if !strings.Contains(got, "path=/last") {
		t.Errorf("got %q after Serve returned, want the line of /last", got)
	}
}

func TestBatchWriter(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n"
	tests := []struct {
		name       string
		lines      int
		flush      bool
		wantWrites int // right after the lines, before batchDelay
		wantBytes  int
	}{
		{"a line waits for the batch", 1, false, 0, 0},
		{"a full batch is written at once", batchSize/len(line) + 1, false, 1, batchSize / len(line) * len(line)},
		{"flush writes what gathered", 3, true, 1, 3 * len(line)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out writeLog
			b := &batchWriter{w: &out}
			for range tt.lines {
				if n, err := b.Write([]byte(line)); n != len(line) || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if tt.flush {
				b.flush()
			}
			got := out.all()
			if len(got) != tt.wantWrites {
				t.Fatalf("got %d writes, want %d", len(got), tt.wantWrites)
			}
			if n := len(strings.Join(got, "")); n != tt.wantBytes {
				t.Errorf("got %d bytes written, want %d", n, tt.wantBytes)
			}
			for _, w := range got {
				if !strings.HasSuffix(w, "\n") || len(w) > batchSize {
					t.Errorf("a write of %d bytes, want whole lines of at most %d", len(w), batchSize)
				}
			}
			// Whatever is left goes out within the batch delay.
			time.Sleep(batchDelay + 200*time.Millisecond)
			if n := len(strings.Join(out.all(), "")); n != tt.lines*len(line) {
				t.Errorf("after the delay: got %d bytes written, want %d", n, tt.lines*len(line))
			}
		})
	}
}

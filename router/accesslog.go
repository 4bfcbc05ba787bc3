package router

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// recorder notes the status and body size a handler writes, for the access
// log. It passes Flush and Hijack through (directly and via Unwrap), so
// http.ResponseController keeps working for the proxy's flushes and
// WebSocket upgrades. It is used by one request's goroutine only.
type recorder struct {
	http.ResponseWriter
	status   int // final status; 0 until one is written
	bytes    int64
	hijacked bool
	err      error     // why the request could not be proxied, if it could not
	held     *heldConn // holding the response's writes (see maxHeld), if set
}

func (w *recorder) WriteHeader(code int) {
	// 1xx other than 101 are informational; the final status comes later.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	if code < 200 {
		w.release() // an informational status leaves at once
	}
	w.ResponseWriter.WriteHeader(code)
}

// release stops holding the response's writes.
func (w *recorder) release() {
	if w.held != nil {
		w.held.release()
		w.held = nil
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom passes a copy to the server's ResponseWriter, so that a static
// site's files go out with sendfile(2) where the connection allows it.
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, src)
	w.bytes += n
	return n, err
}

// FlushError is what http.ResponseController.Flush calls.
func (w *recorder) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.release()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (w *recorder) Flush() { _ = w.FlushError() }

// Hijack implements http.Hijacker. A hijacked request is logged as 101: the
// proxy hijacks only to complete a protocol switch.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.release()
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		if w.status == 0 {
			w.status = http.StatusSwitchingProtocols
		}
	}
	return conn, brw, err
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequest writes the access log line for one finished request.
func (r *Router) logRequest(req *http.Request, w *recorder, start time.Time) {
	if !r.accessLog.Enabled(req.Context(), slog.LevelInfo) {
		return
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	host, method, path := slog.String("host", req.Host), slog.String("method", req.Method), slog.String("path", req.URL.Path)
	code, took, bytes := slog.Int("status", status), slog.Duration("duration", time.Since(start)), slog.Int64("bytes", w.bytes)
	if w.err != nil {
		r.accessLog.LogAttrs(req.Context(), slog.LevelInfo, "request", host, method, path, code, took, bytes, slog.String("err", w.err.Error()))
		return
	}
	r.accessLog.LogAttrs(req.Context(), slog.LevelInfo, "request", host, method, path, code, took, bytes)
}

// The access log's batches (see Config.AccessLog).
const (
	batchSize  = 32 << 10
	batchDelay = time.Second
)

// batchWriter gathers the access log's lines and writes them to w in
// batches: when batchSize bytes have gathered, batchDelay after the first
// line of a batch, and on flush. Each Write must be whole lines (slog's
// handlers write one record per call). It is safe for concurrent use.
type batchWriter struct {
	w io.Writer

	mu    sync.Mutex
	buf   []byte
	timer *time.Timer // armed while buf holds lines
}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > batchSize {
		b.flushLocked()
	}
	if len(b.buf) == 0 {
		if b.timer == nil {
			b.timer = time.AfterFunc(batchDelay, b.flush)
		} else {
			b.timer.Reset(batchDelay)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// flush writes what has gathered.
func (b *batchWriter) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *batchWriter) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.w.Write(b.buf)
	b.buf = b.buf[:0]
	if b.timer != nil {
		b.timer.Stop()
	}
}

// flushAccessLog writes the access log lines still in a batch.
func (r *Router) flushAccessLog() {
	if r.batch != nil {
		r.batch.flush()
	}
}

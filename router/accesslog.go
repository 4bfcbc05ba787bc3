package router

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	err      error // why the request could not be proxied, if it could not
}

func (w *recorder) WriteHeader(code int) {
	// 1xx other than 101 are informational; the final status comes later.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
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
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (w *recorder) Flush() { _ = w.FlushError() }

// Hijack implements http.Hijacker. A hijacked request is logged as 101: the
// proxy hijacks only to complete a protocol switch.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
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
	if !r.log.Enabled(req.Context(), slog.LevelInfo) {
		return
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	attrs := []slog.Attr{
		slog.String("host", req.Host),
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int64("bytes", w.bytes),
	}
	if w.err != nil {
		attrs = append(attrs, slog.String("err", w.err.Error()))
	}
	r.log.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
}

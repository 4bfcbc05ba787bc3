package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"pier/app"
)

// logsBackend is what the log stream follows: an app's process output.
type logsBackend interface {
	Logs(ctx context.Context, name string, q app.LogQuery, w io.Writer) error
}

// logStream sends an app's log over Server-Sent Events: the last 100
// lines, then each new line as it is written, one event per line. It ends
// when the browser goes away (the request's context ends, and with it
// logsBackend.Logs). A comment every 15 s keeps idle connections open
// through proxies and tells a gone client sooner.
func (d *Dashboard) logStream(c echo.Context) error {
	name := c.Param("app")
	if err := app.ValidName(name); err != nil {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	rc := http.NewResponseController(c.Response().Writer)
	h := c.Response().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.Response().WriteHeader(http.StatusOK)
	w := &sseWriter{c: c, rc: rc, cancel: cancel}
	w.comment("log of " + name)

	var wg sync.WaitGroup
	defer wg.Wait() // before the response is given back
	defer cancel()
	wg.Go(func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.comment("")
			}
		}
	})
	err := d.logs.Logs(ctx, name, app.LogQuery{Lines: 100, Follow: true}, w)
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		w.event("error", err.Error())
	}
	return nil
}

// sseWriter turns written lines into SSE data events, flushing each. A
// failed write (the client left) cancels the stream.
type sseWriter struct {
	c      echo.Context
	rc     *http.ResponseController
	cancel context.CancelFunc
	buf    []byte     // a partial line
	mu     sync.Mutex // the heartbeat and the log share the response
}

// maxSSELine bounds a line the stream holds back waiting for its end.
const maxSSELine = 64 << 10

func (w *sseWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	var out bytes.Buffer
	for {
		i, next := bytes.IndexByte(w.buf, '\n'), 0
		switch {
		case i >= 0:
			next = i + 1
		case len(w.buf) < maxSSELine:
		default:
			i, next = maxSSELine, maxSSELine // an endless line goes out in pieces
		}
		if next == 0 {
			break
		}
		line := bytes.TrimRight(w.buf[:i], "\r")
		// A CR ends an SSE line too: one inside an app's line would
		// start a field of the app's choosing (event:, id:).
		line = bytes.ReplaceAll(line, []byte("\r"), []byte(" "))
		out.WriteString("data: ")
		out.Write(line)
		out.WriteString("\n\n")
		w.buf = w.buf[next:]
	}
	if out.Len() > 0 {
		if err := w.send(out.Bytes()); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *sseWriter) comment(s string) { w.send([]byte(": " + s + "\n\n")) }

func (w *sseWriter) event(name, data string) {
	w.send([]byte("event: " + name + "\ndata: " + data + "\n\n"))
}

func (w *sseWriter) send(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.c.Response().Write(b); err != nil {
		w.cancel()
		return err
	}
	if err := w.rc.Flush(); err != nil {
		w.cancel()
		return err
	}
	return nil
}

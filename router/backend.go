package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"
)

// backendTransport sends GET and HEAD requests without a body or an
// upgrade, the bulk of web traffic, to backends over kept-alive HTTP/1.1
// connections on the calling goroutine. http.Transport hands each request
// to a writer and a reader goroutine of its connection and back, which was
// a large part of the router's time per request. Every other request goes
// through next, which handles bodies, 100-continue and upgrades.
//
// An idle connection the backend has closed is only found out when it is
// used: GET and HEAD are then sent again, once, on a new connection, as
// http.Transport does. Safe for concurrent use.
type backendTransport struct {
	next    *http.Transport // and its DialContext for new connections
	maxIdle int             // per backend address

	mu    sync.Mutex
	idle  map[string][]*backendConn // by address, most recently used last
	sweep *time.Timer               // closes connections idle too long; nil while none are
}

func newBackendTransport(next *http.Transport) *backendTransport {
	return &backendTransport{
		next:    next,
		maxIdle: next.MaxIdleConnsPerHost,
		idle:    map[string][]*backendConn{},
	}
}

// backendConn is one kept-alive connection to a backend.
type backendConn struct {
	addr      string
	c         net.Conn
	head      *headBudget // under br: bounds what a response head reads
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// fast reports whether req can take the direct path.
func fast(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(req.Body == nil || req.Body == http.NoBody) && req.ContentLength == 0 &&
		req.URL.Scheme == "http" && req.Header.Get("Upgrade") == "" && !req.Close
}

// RoundTrip implements http.RoundTripper.
func (t *backendTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !fast(req) {
		return t.slow(req)
	}
	for attempt := 0; ; attempt++ {
		bc, reused, err := t.get(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, started, err := bc.roundTrip(req, t)
		if err == nil {
			return resp, nil
		}
		bc.c.Close()
		if !reused || started || attempt > 0 || req.Context().Err() != nil {
			return nil, err
		}
	}
}

// get returns an idle connection to addr, or dials one.
func (t *backendTransport) get(ctx context.Context, addr string) (*backendConn, bool, error) {
	t.mu.Lock()
	if list := t.idle[addr]; len(list) > 0 {
		bc := list[len(list)-1]
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		return bc, true, nil
	}
	t.mu.Unlock()
	c, err := t.next.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	head := &headBudget{r: c, left: -1}
	return &backendConn{addr: addr, c: c, head: head, br: bufio.NewReaderSize(head, readBufferSize), bw: bufio.NewWriterSize(c, 4<<10)}, false, nil
}

// put keeps bc for the next request to its address, or closes it.
func (t *backendTransport) put(bc *backendConn) {
	bc.idleSince = time.Now()
	t.mu.Lock()
	if list := t.idle[bc.addr]; len(list) < t.maxIdle {
		t.idle[bc.addr] = append(list, bc)
		if t.sweep == nil {
			t.sweep = time.AfterFunc(idleConnTimeout, t.closeExpired)
		}
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	bc.c.Close()
}

// closeExpired closes the connections idle for idleConnTimeout, as
// http.Transport does, and comes back while any are left.
func (t *backendTransport) closeExpired() {
	cutoff := time.Now().Add(-idleConnTimeout)
	t.mu.Lock()
	var expired []*backendConn
	for addr, list := range t.idle {
		i := 0 // the list is oldest first
		for i < len(list) && list[i].idleSince.Before(cutoff) {
			i++
		}
		expired = append(expired, list[:i]...)
		if i == len(list) {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = list[i:]
		}
	}
	t.sweep = nil
	if len(t.idle) > 0 {
		t.sweep = time.AfterFunc(idleConnTimeout/2, t.closeExpired)
	}
	t.mu.Unlock()
	for _, bc := range expired {
		bc.c.Close()
	}
}

// closeIdle closes the idle connections to addr (a drained backend).
func (t *backendTransport) closeIdle(addr string) {
	t.mu.Lock()
	list := t.idle[addr]
	delete(t.idle, addr)
	t.mu.Unlock()
	for _, bc := range list {
		bc.c.Close()
	}
}

// CloseIdleConnections closes every idle connection, here and in next.
func (t *backendTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*backendConn{}
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, list := range idle {
		for _, bc := range list {
			bc.c.Close()
		}
	}
	t.next.CloseIdleConnections()
}

// roundTrip writes req and reads the response head. started reports
// whether any of the response arrived: a request is only sent again if
// nothing did.
func (bc *backendConn) roundTrip(req *http.Request, t *backendTransport) (resp *http.Response, started bool, err error) {
	// Cancelling the request unblocks the connection's reads and writes;
	// the connection is then closed, never reused.
	stop := context.AfterFunc(req.Context(), func() { bc.c.SetDeadline(time.Unix(1, 0)) })
	if err := req.Write(bc.bw); err != nil {
		stop()
		return nil, false, err
	}
	if err := bc.bw.Flush(); err != nil {
		stop()
		return nil, false, err
	}
	trace := httptrace.ContextClientTrace(req.Context())
	for n1xx := 0; ; n1xx++ {
		if _, err := bc.br.Peek(1); err != nil {
			stop()
			return nil, resp != nil, err // after an early hint, not sent again
		}
		if n1xx == max1xxResponses {
			stop()
			return nil, true, errTooMany1xx
		}
		// The head has its bounds from its first byte on.
		bc.head.left = maxResponseHeaderBytes - int64(bc.br.Buffered())
		bc.c.SetReadDeadline(time.Now().Add(responseHeadTimeout))
		resp, err = http.ReadResponse(bc.br, req)
		bc.head.left = -1
		bc.c.SetReadDeadline(time.Time{})
		if req.Context().Err() != nil { // cancelled meanwhile: unblock for good
			bc.c.SetDeadline(time.Unix(1, 0))
		}
		if err != nil {
			stop()
			if errors.Is(err, errHeadTooLarge) {
				err = fmt.Errorf("backend's response head is larger than %d bytes", maxResponseHeaderBytes)
			}
			return nil, true, err
		}
		if resp.StatusCode >= 200 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			stop()
			return nil, true, errors.New("backend switched protocols on a request without an upgrade")
		}
		if trace != nil && trace.Got1xxResponse != nil { // early hints, forwarded by ReverseProxy
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				stop()
				return nil, true, err
			}
		}
	}
	resp.Body = &backendBody{r: resp.Body, bc: bc, t: t, stop: stop, reuse: !resp.Close}
	return resp, true, nil
}

// errHeadTooLarge is a response head over maxResponseHeaderBytes.
var errHeadTooLarge = errors.New("response head too large")

// headBudget reads r, at most left bytes while left >= 0 (a response head
// being read), without limit while it is negative.
type headBudget struct {
	r    io.Reader
	left int64
}

func (h *headBudget) Read(p []byte) (int, error) {
	if h.left == 0 {
		return 0, errHeadTooLarge
	}
	if h.left > 0 && int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	if h.left > 0 {
		h.left -= int64(n)
	}
	return n, err
}

// slow sends req through next, with a response head due within
// responseHeadTimeout of its first byte, after at most max1xxResponses
// informational responses (next bounds its size). net/http counts the
// informational responses a proxy forwards only against the size of the
// head: tens of thousands of small ones fit in it.
func (t *backendTransport) slow(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	var (
		mu    sync.Mutex
		timer *time.Timer
		n1xx  int
	)
	returned := make(chan struct{})
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() {
			mu.Lock()
			defer mu.Unlock()
			if timer == nil {
				timer = time.AfterFunc(responseHeadTimeout, func() { cancel(errHeadTimeout) })
			}
		},
		// Called before the proxy's own hook, which forwards the response
		// to the client unless the round trip has returned: past the
		// bound, the round trip is cut and this waits for it to return.
		Got1xxResponse: func(int, textproto.MIMEHeader) error {
			if n1xx++; n1xx > max1xxResponses {
				cancel(errTooMany1xx)
				<-returned
			}
			return nil
		},
	})
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	close(returned)
	mu.Lock()
	if timer != nil {
		timer.Stop()
	}
	mu.Unlock()
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errHeadTimeout) || errors.Is(cause, errTooMany1xx) {
			err = cause
		}
		cancel(nil)
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols { // an upgrade's body is its connection
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	return resp, nil
}

var (
	errHeadTimeout = errors.New("backend's response head took too long")
	errTooMany1xx  = fmt.Errorf("backend sent more than %d informational responses", max1xxResponses)
)

// cancelOnClose ends a request's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel(nil)
	return err
}

// backendBody is a response body that gives its connection back once read
// to the end, and closes it if abandoned before.
type backendBody struct {
	r     io.ReadCloser
	bc    *backendConn
	t     *backendTransport
	stop  func() bool
	reuse bool
	done  bool
}

func (b *backendBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
		err = fmt.Errorf("read response from %s: %w", b.bc.addr, err)
	}
	return n, err
}

func (b *backendBody) Close() error {
	b.finish(false)
	return nil
}

// finish ends the body once: the connection goes back to the pool if the
// body was read to its end, the backend keeps it open, and the request
// was not cancelled meanwhile; otherwise it is closed.
func (b *backendBody) finish(complete bool) {
	if b.done {
		return
	}
	b.done = true
	if complete && b.reuse && b.stop() && b.bc.br.Buffered() == 0 {
		b.t.put(b.bc)
		return
	}
	b.stop()
	b.bc.c.Close()
}

package router

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// Go's HTTP/1 server writes a response through a 4 KiB buffer, so one of a
// little more than that, such as headers and a 4 KiB body, leaves in two
// write system calls and wakes the client twice: a third of the router's
// time per proxied request went to those two writes. So, as nginx sends
// headers and body with one writev, the router holds the writes of a
// proxied response on the connection and sends them together once the
// response is complete, up to maxHeld bytes: beyond that, what was held
// goes out and the rest follows as the server writes it.
//
// Only HTTP/1 requests without a body are held: a body may ask for a
// "100 Continue" that must leave at once, and HTTP/2 multiplexes its
// connection. A response stops being held as soon as it is flushed (a
// stream), hijacked (an upgrade) or sends an informational (1xx) status.
const maxHeld = 16 << 10

// heldListener wraps each accepted connection in a heldConn.
type heldListener struct {
	net.Listener
	buffers *sync.Pool // of *[]byte
}

func (l heldListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &heldConn{Conn: c, buffers: l.buffers}, nil
}

// heldConn is a connection whose writes can be held and sent in one.
type heldConn struct {
	net.Conn
	buffers *sync.Pool

	mu  sync.Mutex
	buf *[]byte // writes held; nil while not holding
}

func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf != nil {
		if len(*c.buf)+len(p) <= maxHeld {
			*c.buf = append(*c.buf, p...)
			return len(p), nil
		}
		if err := c.sendLocked(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection after an answer whose
// request body it did not read, as it does with a bare TCP connection.
func (c *heldConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// hold starts holding writes.
func (c *heldConn) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = c.buffers.Get().(*[]byte)
	}
}

// holding reports whether writes are being held.
func (c *heldConn) holding() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf != nil
}

// release sends what was held, in one write, and stops holding.
func (c *heldConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendLocked()
}

func (c *heldConn) sendLocked() error {
	if c.buf == nil {
		return nil
	}
	b := c.buf
	c.buf = nil
	var err error
	if len(*b) > 0 {
		_, err = c.Conn.Write(*b)
	}
	*b = (*b)[:0]
	c.buffers.Put(b)
	return err
}

type heldConnKey struct{}

// withHeldConn is the servers' ConnContext: it lets a request find its
// heldConn, under TLS too.
func withHeldConn(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if hc, ok := c.(*heldConn); ok {
		return context.WithValue(ctx, heldConnKey{}, hc)
	}
	return ctx
}

// heldConnFor returns the connection of req if its response may be held,
// or nil.
func heldConnFor(req *http.Request) *heldConn {
	if req.ProtoMajor != 1 || req.ContentLength != 0 || req.Header["Upgrade"] != nil {
		return nil
	}
	hc, _ := req.Context().Value(heldConnKey{}).(*heldConn)
	return hc
}

// proxyHeld proxies req through b, holding the response's writes (see
// maxHeld) when it may. w is the server's ResponseWriter, rec its recorder.
func (r *Router) proxyHeld(w http.ResponseWriter, rec *recorder, req *http.Request, b backend) {
	hc := heldConnFor(req)
	if hc == nil {
		b.proxy.ServeHTTP(rec, req)
		return
	}
	hc.hold()
	rec.held = hc
	b.proxy.ServeHTTP(rec, req)
	if hc.holding() {
		// Into the held buffer: the server's own buffers, then all of it
		// in one write.
		http.NewResponseController(w).Flush()
		hc.release()
	}
}

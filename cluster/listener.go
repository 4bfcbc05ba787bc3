package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"pier/cluster/pki"
)

// ALPN protocols on the cluster port tell its connections apart: raft's;
// app requests forwarded by other machines' routers (HTTP/1.1 to apps,
// kept apart so that no path an app's client asks for can reach the
// cluster's own endpoints); the rest is the cluster's own HTTP/1.1.
const (
	alpnRaft = "pier-raft/1"
	alpnApps = "pier-apps/1"
)

// Bounds on what reaches the cluster port before it is known to come from
// the cluster.
const (
	handshakeTimeout = 10 * time.Second
	maxHandshakes    = 64 // TLS handshakes in progress at once
)

// port accepts the cluster port's connections, completes their TLS
// handshakes and hands each to raft or to HTTP by its ALPN protocol. A raft
// connection must carry a certificate of the cluster; HTTP checks each
// request's (the join endpoint takes none).
type port struct {
	ln    net.Listener
	tls   *tls.Config
	raft  *connListener
	apps  *connListener
	http  *connListener
	log   *slog.Logger
	slots chan struct{}
	wg    sync.WaitGroup
}

func newPort(ln net.Listener, cfg *tls.Config, log *slog.Logger) *port {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{alpnRaft, alpnApps, "http/1.1"}
	return &port{
		ln: ln, tls: cfg, log: log,
		raft: newConnListener(ln.Addr()), apps: newConnListener(ln.Addr()), http: newConnListener(ln.Addr()),
		slots: make(chan struct{}, maxHandshakes),
	}
}

// serve accepts connections until the listener is closed.
func (p *port) serve() {
	defer p.raft.Close()
	defer p.apps.Close()
	defer p.http.Close()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return
		}
		select {
		case p.slots <- struct{}{}:
		default:
			conn.Close() // too many handshakes at once: shed, don't queue
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handshake(conn)
		}()
	}
}

func (p *port) handshake(conn net.Conn) {
	tc := tls.Server(conn, p.tls)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	<-p.slots
	if err != nil {
		p.log.Debug("cluster port: handshake", "remote", conn.RemoteAddr(), "err", err)
		conn.Close()
		return
	}
	cs := tc.ConnectionState()
	to := p.http
	switch cs.NegotiatedProtocol {
	case alpnRaft:
		to = p.raft
	case alpnApps:
		to = p.apps
	}
	if to != p.http {
		if _, err := pki.PeerName(&cs); err != nil {
			p.log.Warn("cluster port: connection without a cluster certificate", "protocol", cs.NegotiatedProtocol,
				"remote", conn.RemoteAddr())
			conn.Close()
			return
		}
	}
	if to == p.apps {
		// net/http serves a *tls.Conn only for the protocols it knows;
		// the peer is checked already.
		to.put(plainConn{tc})
		return
	}
	to.put(tc)
}

// close stops accepting; connections already handed on are their
// servers' to close.
func (p *port) close() error {
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// plainConn hides that a connection is TLS from net/http.
type plainConn struct{ net.Conn }

// connListener is a net.Listener of connections accepted elsewhere.
type connListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) put(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

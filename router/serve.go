package router

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 10 * time.Second
)

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully: it
// stops accepting, lets requests in flight finish for up to 10s, and then
// closes what is left, WebSockets included (http.Server.Shutdown does not
// wait for hijacked connections; they end when Serve returns). It returns nil
// after a clean shutdown, and an error if serving or the shutdown failed.
//
// There is no read or write timeout beyond the request header: uploads,
// long polls and streams take as long as they take. Serve may run on several
// listeners at once.
func (r *Router) Serve(ctx context.Context, ln net.Listener) error {
	var h http.Handler = r
	if r.tls != nil {
		// ACME HTTP-01 challenges are answered before routing.
		h = r.tls.challenges(r.tls.acme.HTTPChallengeHandler(r))
	}
	return r.serve(ctx, ln, h, nil)
}

// ServeTLS answers HTTPS (HTTP/2 and HTTP/1.1) on ln like Serve, with
// certificates from the manager EnableTLS set up; it fails without it.
func (r *Router) ServeTLS(ctx context.Context, ln net.Listener) error {
	if r.tls == nil {
		return fmt.Errorf("serve https on %s: EnableTLS was not called", ln.Addr())
	}
	return r.serve(ctx, ln, r, r.tls.tlsConfig())
}

func (r *Router) serve(ctx context.Context, ln net.Listener, h http.Handler, tlsConfig *tls.Config) error {
	// Requests live in base, not ctx, so they survive until the shutdown's
	// grace period is over.
	base, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          r.errLog,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnContext:       withHeldConn,
		TLSConfig:         tlsConfig,
	}
	ln = heldListener{Listener: ln, buffers: &r.held}

	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	endRequests() // ends upgraded connections, and requests past the deadline
	if err != nil {
		srv.Close()
	}
	<-served
	r.transport.CloseIdleConnections()
	r.flushAccessLog()
	if err != nil {
		return fmt.Errorf("shut down http on %s: %w", ln.Addr(), err)
	}
	return nil
}

package router

import (
	"context"
	"sync/atomic"
	"time"
)

// counter returns the in-flight counter of a backend address.
func (r *Router) counter(addr string) *atomic.Int64 {
	c, _ := r.inflight.LoadOrStore(addr, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// Drain implements app.Routes: it returns nil once no request to addr (a
// backend address, or a static site's directory) is in flight, polling
// every 10ms, or ctx's error when ctx ends first. Call it after the route
// moved away from addr; open WebSockets and streams count as in flight
// until they close.
func (r *Router) Drain(ctx context.Context, addr string) error {
	c := r.counter(addr)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	// Kept-alive connections to a drained backend are of no more use: it
	// is about to stop.
	defer r.transport.closeIdle(addr)
	for c.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

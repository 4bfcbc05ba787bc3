package router

import (
	"context"
	"sync"
	"time"
)

// startupWait bounds how long a request waits for the route table while
// pier starts: long enough for the first reconcile of a machine with a
// few apps, short enough that a client is answered before it gives up.
const startupWait = 20 * time.Second

// Starting says the route table is not whole yet: pier has started but
// has not yet found what runs and set the routes of every app. Until the
// returned ready is called (once or more), a request for a host that
// names no app, or an app without backends, waits for the table (up to
// startupWait) instead of being told no app is there: a restart of pier
// under running apps does not answer "No app here" for them.
func (r *Router) Starting() (ready func()) {
	ch := make(chan struct{})
	r.startup.Store(&ch)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(ch)
			r.startup.Store(nil)
		})
	}
}

// awaitRoutes waits while pier is starting (see Starting), until the
// route table is whole, routed says the request's app can be served,
// startupWait has passed or ctx ends. It reports whether it waited, so
// the caller looks again.
func (r *Router) awaitRoutes(ctx context.Context, routed func() bool) bool {
	ch := r.startup.Load()
	if ch == nil {
		return false
	}
	deadline := time.NewTimer(startupWait)
	defer deadline.Stop()
	poll := time.NewTicker(25 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-*ch:
			return true
		case <-deadline.C:
			return true
		case <-ctx.Done():
			return true
		case <-poll.C:
			if routed() {
				return true
			}
		}
	}
}

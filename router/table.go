package router

import (
	"maps"
	"net"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"
)

// table maps an app name to its route. A published table is never modified:
// Set and Delete build a new one and swap the pointer.
type table map[string]*route

// route is one app's backends. Only the round-robin counter changes after
// the route is published.
type route struct {
	app      string
	backends []backend // empty when the app has none
	next     atomic.Uint64
	// asleep: requests wait for a wake instead of going to the backends
	// (which, for a frozen app, are there but paused).
	asleep      bool
	asleepSince time.Time
}

// backend is one address serving an app, with the count of requests in
// flight to it (shared by every route naming the address, so a drain sees
// requests that began before the route moved away).
type backend struct {
	addr     string
	proxy    *httputil.ReverseProxy
	inflight *atomic.Int64
}

// pick returns the next backend in round-robin order. backends must not be
// empty.
func (rt *route) pick() backend {
	n := rt.next.Add(1) - 1
	return rt.backends[n%uint64(len(rt.backends))]
}

// Set replaces app's backends (each "host:port") in one step: a request sees
// either the old set or the new one. Whether the app is asleep is kept. Empty addrs keeps the app known with no
// backends, so its requests get the 502 page rather than the 404 one. An
// address that is not host:port is logged and left out.
func (r *Router) Set(app string, addrs []string) {
	app = strings.ToLower(app)
	rt := &route{app: app, backends: make([]backend, 0, len(addrs))}
	for _, addr := range addrs {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			r.log.Warn("backend left out", "app", app, "addr", addr, "err", err)
			continue
		}
		rt.backends = append(rt.backends, backend{addr: addr, proxy: r.newProxy(app, addr), inflight: r.counter(addr)})
	}
	isNew := false
	r.update(func(t table) {
		if old := t[app]; old != nil {
			rt.asleep, rt.asleepSince = old.asleep, old.asleepSince
		} else {
			isNew = true
		}
		t[app] = rt
	})
	r.log.Debug("route set", "app", app, "backends", len(rt.backends))
	if isNew && r.tls != nil {
		r.tls.manage(app + r.suffix)
	}
}

// Delete removes app from the table; its host answers 404 from then on.
// Deleting an unknown app does nothing.
func (r *Router) Delete(app string) {
	r.update(func(t table) { delete(t, strings.ToLower(app)) })
	r.SetDomains(app, nil)
	r.requests.forget(strings.ToLower(app))
	r.log.Debug("route deleted", "app", app)
}

// update publishes a copy of the table changed by change.
func (r *Router) update(change func(table)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := maps.Clone(*r.routes.Load())
	if next == nil {
		next = table{}
	}
	change(next)
	r.routes.Store(&next)
}

// lookup returns the route for a request's Host, <app>.<domain> or one of
// an app's custom domains, or nil when the host names no known app.
func (r *Router) lookup(host string) *route {
	host = normalHost(host)
	name, ok := r.appName(host)
	if !ok {
		if name, ok = (*r.domains.Load())[host]; !ok {
			return nil
		}
	}
	return (*r.routes.Load())[name]
}

// normalHost is a Host header without its port and trailing dot, lowercase.
func normalHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// appName extracts the app from a Host header: exactly one label before the
// domain, case-insensitive, port and a trailing dot ignored.
func (r *Router) appName(host string) (string, bool) {
	host = normalHost(host)
	name, ok := strings.CutSuffix(host, r.suffix)
	if !ok || name == "" || strings.IndexByte(name, '.') >= 0 {
		return "", false
	}
	return name, true
}

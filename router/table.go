package router

import (
	"fmt"
	"maps"
	"net"
	"net/http/httputil"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"pier/app"
)

// table maps an app name to its route. A published table is never modified:
// Set and Delete build a new one and swap the pointer.
type table map[string]*route

// route is one app's backends, or its static site. Only the round-robin
// counter changes after the route is published.
type route struct {
	app      string
	backends []backend // empty when the app has none
	site     *site     // set for a static site, which has no backends
	next     atomic.Uint64
	// asleep: requests wait for a wake instead of going to the backends
	// (which, for a frozen app, are there but paused).
	asleep      bool
	asleepSince time.Time
	// remote: the backends are other machines of the cluster (SetRemote).
	remote bool
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
// either the old set or the new one. Whether the app is asleep is kept; a
// static site the app had is no longer served. Empty addrs keeps the app
// known with no backends, so its requests get the 502 page rather than the
// 404 one. An address that is not host:port is logged and left out.
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
	isNew := r.replace(app, func(old *route) *route {
		if old != nil {
			rt.asleep, rt.asleepSince = old.asleep, old.asleepSince
		}
		return rt
	})
	r.log.Debug("route set", "app", app, "backends", len(rt.backends))
	if isNew && r.tls != nil {
		r.tls.manage(app + r.suffix)
	}
}

// SetStatic implements app.Routes: app's requests are answered from the
// files in dir (see static.go) instead of backends, from the moment it
// returns; a request sees either the old route or the new one. The app is
// awake from then on (a static site never sleeps). dir is opened here, once;
// an error opening it leaves the route as it was. Setting the directory the
// app is already served from again changes nothing.
func (r *Router) SetStatic(app, dir string) error {
	app = strings.ToLower(app)
	if cur := (*r.routes.Load())[app]; cur != nil && cur.site != nil && cur.site.dir == dir && !cur.asleep {
		return nil
	}
	s, err := r.openSite(dir)
	if err != nil {
		return fmt.Errorf("static site of %s: %w", app, err)
	}
	isNew := r.replace(app, func(*route) *route { return &route{app: app, site: s} })
	r.log.Debug("route set", "app", app, "static", dir)
	if isNew && r.tls != nil {
		r.tls.manage(app + r.suffix)
	}
	return nil
}

// Delete removes app from the table; its host answers 404 from then on.
// Deleting an unknown app does nothing.
func (r *Router) Delete(app string) {
	r.replace(strings.ToLower(app), func(*route) *route { return nil })
	r.SetDomains(app, nil)
	r.requests.forget(strings.ToLower(app))
	r.log.Debug("route deleted", "app", app)
}

// Routed lists the apps in the route table, sorted.
func (r *Router) Routed() []string {
	return slices.Sorted(maps.Keys(*r.routes.Load()))
}

// replace publishes a copy of the table in which app's route is what next
// returns given the current one (nil: none), and reports whether the app
// was not in the table before. A static site the old route served and the
// new one does not is released once the new table is published.
func (r *Router) replace(app string, next func(old *route) *route) (isNew bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := maps.Clone(*r.routes.Load())
	if t == nil {
		t = table{}
	}
	old := t[app]
	rt := next(old)
	if rt == nil {
		delete(t, app)
	} else {
		t[app] = rt
	}
	r.routes.Store(&t)
	if old != nil && old.site != nil && (rt == nil || rt.site != old.site) {
		old.site.release()
	}
	return old == nil
}

// lookupHeld is lookup that also takes a reference on a static site's
// directory, so it stays open while the request uses it; done drops it.
// A site released between the lookup and the reference means a newer route
// is already published: the lookup is made again.
func (r *Router) lookupHeld(host string) (rt *route, done func()) {
	for {
		rt = r.lookup(host)
		if rt == nil || rt.site == nil {
			return rt, func() {}
		}
		if rt.site.acquire() {
			return rt, rt.site.release
		}
	}
}

// servable says whether rt can answer a request: a static site, an app
// with backends, or one asleep that a request wakes.
func servable(rt *route) bool {
	return rt != nil && (rt.site != nil || rt.asleep || len(rt.backends) > 0)
}

// lookup returns the route for a request's Host, <app>.<domain> or one of
// an app's custom domains, or nil when the host names no known app.
func (r *Router) lookup(host string) *route {
	host = normalHost(host)
	name, ok := r.appOf(host)
	if !ok {
		if name, ok = (*r.domains.Load())[host]; !ok {
			return nil
		}
	}
	return (*r.routes.Load())[name]
}

// normalHost is a Host header without its port and trailing dot, lowercase:
// the one form routing, certificates and redirects use. A header that is
// not host or host:port ("a.example.com:[") stays as it is, and so names
// no app and no certificate.
func normalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(lowerASCII(host), ".")
}

// lowerASCII lowercases only ASCII letters: strings.ToLower would also turn
// some other characters into ASCII ones (the Kelvin sign into "k"), and so
// route a host that is no app's name to an app.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// appName extracts the app from a Host header: exactly one label before the
// domain, case-insensitive, port and a trailing dot ignored. A label that
// cannot name an app (app.ValidName) is no app's.
func (r *Router) appName(host string) (string, bool) {
	return r.appOf(normalHost(host))
}

// appOf is appName of a host normalHost returned: normalized twice,
// "hello.example.com.." would lose both its trailing dots and be routed.
func (r *Router) appOf(host string) (string, bool) {
	name, ok := strings.CutSuffix(host, r.suffix)
	if !ok || app.ValidName(name) != nil {
		return "", false
	}
	return name, true
}

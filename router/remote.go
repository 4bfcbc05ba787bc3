package router

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The machines of a cluster serve each other's apps: the route of an app
// that runs on other machines forwards each request to one of them
// through the forwarder (the cluster's mutual TLS), where the router
// serves it as if the client had asked there (ServeForwarded): access
// rules see the client's address, a sleeping app wakes there.

// Headers a forwarded request carries, set by the forwarding router and
// trusted only by ServeForwarded.
const (
	headerClient = "X-Pier-Client" // the client's IP address
	headerScheme = "X-Pier-Scheme" // "http" or "https", as the client asked
	headerHops   = "X-Pier-Hops"   // how many machines forwarded it so far
	headerVia    = "X-Pier-Via"    // the machines that forwarded it, comma-separated
)

// maxHops bounds how often one request is forwarded. Machines learn that
// an app moved, or that its instances are up, at slightly different
// moments: a request forwarded to a machine that has no instance of it
// (yet, or any more) is forwarded on, never to a machine it came through,
// until one serves it.
const maxHops = 4

var (
	errNoForwarder = errors.New("this machine forwards to no other machine: it is in no cluster")
	errForwardLoop = errors.New("forwarded to machines that do not run the app either")
)

// forwardedKey holds, in the context of a request another machine
// forwarded, its forwarded.
type forwardedKey struct{}

// forwarded is what a forwarded request carries of its way here: how many
// machines forwarded it, and which. It is not sent back to one of them.
type forwarded struct {
	hops int
	via  []string
}

func forwardedOf(req *http.Request) forwarded {
	f, _ := req.Context().Value(forwardedKey{}).(forwarded)
	return f
}

// SetForwarder sets how requests reach other machines of the cluster: rt
// sends a request for https://NODE/... to the machine named NODE; self
// names this machine.
func (r *Router) SetForwarder(rt http.RoundTripper, self func() string) {
	r.forwarder.Store(&rt)
	r.self.Store(&self)
}

// SetRemote routes app's requests to the machines named nodes, which run
// it, in turn. The app is not asleep here: the machines that run it wake
// it. Empty nodes is Set(app, nil).
func (r *Router) SetRemote(app string, nodes []string) {
	app = strings.ToLower(app)
	rt := &route{app: app, remote: true, backends: make([]backend, 0, len(nodes))}
	for _, n := range nodes {
		key := "node " + n
		rt.backends = append(rt.backends, backend{addr: key, proxy: r.newRemoteProxy(app, n), inflight: r.counter(key)})
	}
	isNew := r.replace(app, func(*route) *route { return rt })
	r.log.Debug("route set", "app", app, "nodes", nodes)
	if isNew && r.tls != nil {
		r.tls.manage(app + r.suffix)
	}
}

// newRemoteProxy returns the proxy to app on the machine node.
func (r *Router) newRemoteProxy(app, node string) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "https", Host: node}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del("X-Real-Ip")
			client, _, err := net.SplitHostPort(pr.In.RemoteAddr)
			if err != nil {
				client = pr.In.RemoteAddr
			}
			pr.Out.Header.Set(headerClient, client)
			scheme := "http"
			if pr.In.TLS != nil {
				scheme = "https"
			}
			pr.Out.Header.Set(headerScheme, scheme)
			f := forwardedOf(pr.In)
			pr.Out.Header.Set(headerHops, strconv.Itoa(f.hops+1))
			via := f.via
			if self := r.self.Load(); self != nil {
				via = append(slices.Clip(via), (*self)())
			}
			pr.Out.Header.Set(headerVia, strings.Join(via, ","))
		},
		Transport:  forwarding{r},
		BufferPool: &r.buffers,
		ErrorLog:   r.errLog,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			r.serveError(w, req, app, err)
		},
	}
}

// forwarding sends a request on to another machine, unless machines
// forwarded it maxHops times already.
type forwarding struct{ r *Router }

func (f forwarding) RoundTrip(req *http.Request) (*http.Response, error) {
	if forwardedOf(req).hops >= maxHops {
		return nil, errForwardLoop
	}
	rt := f.r.forwarder.Load()
	if rt == nil || *rt == nil {
		return nil, errNoForwarder
	}
	return (*rt).RoundTrip(req)
}

// ServeForwarded serves a request another machine of the cluster
// forwarded (the caller checked that it did) as ServeHTTP serves a
// client's: from the client's address, as the client asked it. It is
// forwarded again only if the app moved meanwhile (see maxHops).
func (r *Router) ServeForwarded(w http.ResponseWriter, req *http.Request) {
	if ip := net.ParseIP(req.Header.Get(headerClient)); ip != nil {
		req.RemoteAddr = net.JoinHostPort(ip.String(), "0")
	}
	switch {
	case req.Header.Get(headerScheme) != "https":
		req.TLS = nil
	case req.TLS == nil:
		host, _, err := net.SplitHostPort(req.Host)
		if err != nil {
			host = req.Host
		}
		req.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: host}
	}
	f := forwarded{hops: 1}
	if n, err := strconv.Atoi(req.Header.Get(headerHops)); err == nil && n > 1 {
		f.hops = min(n, maxHops)
	}
	for _, name := range strings.SplitN(req.Header.Get(headerVia), ",", maxHops+1)[:] {
		if name != "" && len(name) <= 253 && len(f.via) < maxHops {
			f.via = append(f.via, name)
		}
	}
	req.Header.Del(headerClient)
	req.Header.Del(headerScheme)
	req.Header.Del(headerHops)
	req.Header.Del(headerVia)
	r.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), forwardedKey{}, f)))
}

// pickFor picks rt's backend for req: in turn, but never a machine the
// request came through.
func (rt *route) pickFor(req *http.Request) (backend, bool) {
	if !rt.remote {
		return rt.pick(), true // the fast path: local instances
	}
	f := forwardedOf(req)
	if len(f.via) == 0 {
		return rt.pick(), true
	}
	n := rt.next.Add(1) - 1
	for i := range rt.backends {
		b := rt.backends[(n+uint64(i))%uint64(len(rt.backends))]
		if !slices.ContainsFunc(f.via, func(v string) bool { return b.addr == "node "+v }) {
			return b, true
		}
	}
	return backend{}, false
}

// LocalBackends counts the instances on this machine that app's route
// sends requests to: none while it is routed to other machines, asleep or
// not routed at all. A static site counts as one.
func (r *Router) LocalBackends(app string) int {
	rt := (*r.routes.Load())[strings.ToLower(app)]
	switch {
	case rt == nil || rt.asleep:
		return 0
	case rt.site != nil:
		return 1
	}
	if rt.remote {
		return 0
	}
	return len(rt.backends)
}

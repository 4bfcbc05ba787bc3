package router

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
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
)

// maxHops bounds how often one request is forwarded. Machines learn that
// an app moved at slightly different moments: a request forwarded to the
// machine that ran it may find it gone from there, and is forwarded once
// more, to where it went. More than that is a loop.
const maxHops = 2

var (
	errNoForwarder = errors.New("this machine forwards to no other machine: it is in no cluster")
	errForwardLoop = errors.New("forwarded to machines that do not run the app either")
)

// forwardedKey holds, in the context of a request another machine
// forwarded, how many machines forwarded it (an int).
type forwardedKey struct{}

// SetForwarder sets how requests reach other machines of the cluster: rt
// sends a request for https://NODE/... to the machine named NODE.
func (r *Router) SetForwarder(rt http.RoundTripper) { r.forwarder.Store(&rt) }

// SetRemote routes app's requests to the machines named nodes, which run
// it, in turn. The app is not asleep here: the machines that run it wake
// it. Empty nodes is Set(app, nil).
func (r *Router) SetRemote(app string, nodes []string) {
	app = strings.ToLower(app)
	rt := &route{app: app, backends: make([]backend, 0, len(nodes))}
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
			hops, _ := pr.In.Context().Value(forwardedKey{}).(int)
			pr.Out.Header.Set(headerHops, strconv.Itoa(hops+1))
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
	if hops, _ := req.Context().Value(forwardedKey{}).(int); hops >= maxHops {
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
	hops, err := strconv.Atoi(req.Header.Get(headerHops))
	if err != nil || hops < 1 {
		hops = 1
	}
	req.Header.Del(headerClient)
	req.Header.Del(headerScheme)
	req.Header.Del(headerHops)
	r.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), forwardedKey{}, hops)))
}

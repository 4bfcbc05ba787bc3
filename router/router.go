// Package router serves every app's web traffic: a request for
// http(s)://<app>.<domain>, or one of the app's custom domains, is checked
// against the app's access rules and proxied to one of its web instances.
// Certificates come from certmagic (tls.go): ACME for public names, pier's
// own CA for internal ones (internalca.go).
//
// The route table, domains and access rules are replaced whole on every
// change and read without a lock, so the request path never waits for the
// deploy pipeline.
package router

import (
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"pier/ratelimit"
)

// Config configures a Router. Zero values take the defaults.
type Config struct {
	// Domain is the parent domain apps answer under: app "hello" answers at
	// hello.<Domain>. Case and a trailing dot are ignored. Default "localhost".
	Domain string
	// PublicPort is the port users reach the router on. It only shapes the
	// URLs URL returns: zero or 80 leaves the port out.
	PublicPort int
	// Log receives the router's messages and, unless AccessLog is set, the
	// access log: one line per request, written as it ends. Required: New
	// panics without it.
	Log *slog.Logger
	// AccessLog, if set, receives the access log instead of Log, in slog's
	// text format, in batches: a line is written at most a second after its
	// request ended, with the others of that second (up to 32 KiB at once),
	// and what is left when Serve returns, as nginx's buffered access_log
	// does: a write per request cost a busy router about 8% of its
	// throughput (scripts/bench.sh router). Write errors are dropped.
	AccessLog io.Writer
	// WakeTimeout bounds how long requests for a sleeping app are held while
	// it wakes; then they get a 503 page. Default 30s.
	WakeTimeout time.Duration
	// AppNetworks are the networks app containers have addresses in:
	// a request from there never passes an allowlist (http-auth's
	// allowed networks) as coming from an allowed network, even one that
	// covers it, such as 10.0.0.0/8.
	AppNetworks []netip.Prefix
	// Metrics registers the router's Prometheus metrics; nil for none.
	Metrics prometheus.Registerer
	// MaxBodyBytes is the largest request body the router passes to an app.
	// A request whose Content-Length is larger gets a 413 page naming the
	// limit and never reaches the app (nor wakes it). A body of unknown
	// length (chunked) is cut off once it grows past the limit: the app
	// sees its read fail, and the client gets the 413 page unless the app
	// had begun to answer. Zero takes DefaultMaxBodyBytes; a negative value
	// means no limit.
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is
// zero: 100 MiB, room for uploads of photos and documents (Dokku's nginx
// default of 1 MiB breaks them) while a runaway client cannot stream
// without end into an app.
const DefaultMaxBodyBytes = 100 << 20

// Router routes requests by Host to app backends. It implements app.Routes
// and app.Health. All methods are safe for concurrent use.
type Router struct {
	domain    string
	suffix    string // "." + domain, what a routed host ends with
	port      int
	maxBody   int64 // 0: no limit
	log       *slog.Logger
	errLog    *log.Logger // for net/http's own complaints, at Warn
	accessLog *slog.Logger
	batch     *batchWriter // under accessLog, if Config.AccessLog is set

	transport *backendTransport // shared by the proxies of every backend
	buffers   bufferPool
	held      sync.Pool    // of *[]byte, for heldConn
	probe     *http.Client // for Ready

	mu      sync.Mutex // serializes Set, Delete and SetDomains; readers never take it
	routes  atomic.Pointer[table]
	domains atomic.Pointer[map[string]string]       // custom domain -> app
	access  atomic.Pointer[map[string]*accessRules] // app -> its rules, if any
	// authFails counts wrong basic auth credentials per client address.
	authFails *ratelimit.Attempts

	inflight sync.Map // backend address -> *atomic.Int64, requests in flight

	wakeState
	explain Explainer // see OnExplain
	ownMu   sync.Mutex
	own     atomic.Pointer[ownCerts] // see SetCertificate
	metrics metrics
	reg     prometheus.Registerer        // Config.Metrics
	appNets []netip.Prefix               // Config.AppNetworks
	peers   atomic.Pointer[[]netip.Addr] // see SetPeers

	gzipCache *gzipCache // static sites' compressed files

	dashboard atomic.Pointer[http.Handler]      // for pier.<domain>; nil: that host is unknown
	forwarder atomic.Pointer[http.RoundTripper] // to the cluster's other machines; nil: none
	self      atomic.Pointer[func() string]     // this machine's name in its cluster
	tls       *certs                            // nil until EnableTLS
	requests  *requestMetrics
	startup   atomic.Pointer[chan struct{}] // see Starting; nil once the table is whole
}

// New returns a Router with an empty route table: every host answers 404
// until Set adds its app.
func New(cfg Config) *Router {
	if cfg.Log == nil {
		panic("router: Config.Log is nil")
	}
	domain := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.Domain)), ".")
	if domain == "" {
		domain = "localhost"
	}
	lg := cfg.Log.With("component", "router")
	r := &Router{
		domain:    domain,
		suffix:    "." + domain,
		port:      cfg.PublicPort,
		log:       lg,
		errLog:    slog.NewLogLogger(lg.Handler(), slog.LevelWarn),
		transport: newBackendTransport(newTransport()),
		probe:     newProbeClient(),
		metrics:   newMetrics(cfg.Metrics),
		reg:       cfg.Metrics,
		requests:  newRequestMetrics(cfg.Metrics),
		authFails: ratelimit.NewAttempts(maxAuthFailures, authFailureWindow),
		gzipCache: newGzipCache(gzipCacheBytes),
		appNets:   cfg.AppNetworks,
	}
	r.accessLog = lg
	if cfg.AccessLog != nil {
		r.batch = &batchWriter{w: cfg.AccessLog}
		r.accessLog = slog.New(slog.NewTextHandler(r.batch, nil)).With("component", "router")
	}
	switch r.maxBody = cfg.MaxBodyBytes; {
	case r.maxBody == 0:
		r.maxBody = DefaultMaxBodyBytes
	case r.maxBody < 0:
		r.maxBody = 0
	}
	r.wakeTimeout = cfg.WakeTimeout
	if r.wakeTimeout == 0 {
		r.wakeTimeout = 30 * time.Second
	}
	r.held.New = func() any {
		b := make([]byte, 0, 8<<10)
		return &b
	}
	r.routes.Store(&table{})
	r.domains.Store(&map[string]string{})
	r.access.Store(&map[string]*accessRules{})
	return r
}

// URL returns the address users open to reach app, such as
// "http://hello.example.com", with ":port" when Config.PublicPort is set and
// not 80. With HTTPS enabled and a public domain it is the https:// address
// (internal names keep http://: pier's CA is not trusted everywhere). It
// does not check that app exists.
func (r *Router) URL(app string) string {
	if r.tls != nil && !IsInternal(r.domain) {
		u := "https://" + app + r.suffix
		if r.tls.port != 443 {
			u += ":" + strconv.Itoa(r.tls.port)
		}
		return u
	}
	u := "http://" + app + r.suffix
	if r.port != 0 && r.port != 80 {
		u += ":" + strconv.Itoa(r.port)
	}
	return u
}

// ServeHTTP proxies req to a backend of the app its Host names, or answers
// it from the app's files for a static site, and logs one line for it.
// Unknown hosts get a 404 page; an app without a working backend gets a 502
// page (see serveError).
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := &recorder{ResponseWriter: w}
	start := time.Now()
	defer r.logRequest(req, rec, start)

	if dash := r.dashboard.Load(); dash != nil && r.isDashboard(req.Host) {
		r.serveDashboard(rec, req, *dash)
		return
	}
	rt, done := r.lookupHeld(req.Host)
	if !servable(rt) && r.awaitRoutes(req.Context(), func() bool { return servable(r.lookup(req.Host)) }) {
		done()
		rt, done = r.lookupHeld(req.Host)
	}
	defer func() { done() }()
	if rt == nil {
		r.serveError(rec, req, "", errUnknownHost)
		return
	}
	defer r.requests.observe(rt.app, rec, start)
	if r.tls != nil && r.tls.redirect(rec, req) {
		return
	}
	// Access rules come before the request counts as activity and before
	// it can wake a sleeping app.
	if err := r.denied(rt.app, req); err != nil {
		r.serveError(rec, req, rt.app, err)
		return
	}
	if err := r.limitBody(w, req); err != nil {
		r.serveError(rec, req, rt.app, err)
		return
	}
	act := r.activityOf(rt.app)
	act.inflight.Add(1)
	act.last.Store(time.Now().UnixNano())
	defer func() {
		act.last.Store(time.Now().UnixNano())
		act.inflight.Add(-1)
	}()
	if rt.asleep && rt.site == nil {
		from := "frozen"
		if len(rt.backends) == 0 {
			from = "stopped"
		}
		if err := r.wake(req.Context(), rt.app, from); err != nil {
			r.serveError(rec, req, rt.app, &wakeError{err})
			return
		}
		done()
		if rt, done = r.lookupHeld(req.Host); rt == nil {
			r.serveError(rec, req, "", errUnknownHost)
			return
		}
	}
	switch {
	case rt.site != nil:
		r.serveSite(rec, req, rt.site)
	case rt.asleep:
		r.serveError(rec, req, rt.app, &wakeError{errStillAsleep})
	case len(rt.backends) == 0:
		r.serveError(rec, req, rt.app, errNoBackends)
	default:
		b, ok := rt.pickFor(req)
		if !ok {
			r.serveError(rec, req, rt.app, errForwardLoop)
			return
		}
		b.inflight.Add(1)
		defer b.inflight.Add(-1)
		r.proxyHeld(w, rec, req, b)
	}
}

package router

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Transport tuning. The default Transport keeps 2 idle connections per host,
// which cut a bare ReverseProxy to well under Caddy's throughput; with these
// it measured 1.4–1.7× Caddy (shared/NOTES.md, "Proxies measured").
const (
	maxIdleConns        = 1024
	maxIdleConnsPerHost = 256
	idleConnTimeout     = 90 * time.Second
	dialTimeout         = 5 * time.Second
	copyBufferSize      = 32 << 10
	readBufferSize      = 16 << 10 // a small response's header and body in one read
)

// An app's response head is bounded on every path: maxResponseHeaderBytes
// in all, done within responseHeadTimeout of its first byte, after at
// most max1xxResponses informational responses. Past either bound the
// client gets a 502 and the connection to the app is closed.
const (
	maxResponseHeaderBytes = 1 << 20
	max1xxResponses        = 8
)

var responseHeadTimeout = 10 * time.Second // a variable for the tests

// newTransport returns the Transport every backend's proxy shares for what
// backendTransport leaves to it (requests with bodies, upgrades).
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // never from the environment: backends are local
		DialContext:           dialer.DialContext,
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
		// Pass Accept-Encoding and compressed bodies through untouched.
		DisableCompression:     true,
		ReadBufferSize:         readBufferSize,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
}

// newProxy returns the proxy for one backend of app.
//
// The backend sees the Host the client asked for, and X-Forwarded-For,
// -Host and -Proto set by the router. ReverseProxy drops the client's own
// Forwarded and X-Forwarded-* headers before Rewrite runs, so a client cannot
// spoof its address; X-Real-Ip is dropped here for the same reason.
//
// Responses of unknown length (chunked streams) and server-sent events are
// flushed after every write, so they reach the client as the app writes
// them: ReverseProxy does that whatever its FlushInterval. A response whose
// length is known goes out as buffers fill: flushing each write of it too
// cost a write system call more per response. Upgrades (WebSocket) are
// handled by ReverseProxy through the recorder's Hijack.
func (r *Router) newProxy(app, addr string) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: addr}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del("X-Real-Ip")
			pr.SetXForwarded()
		},
		Transport:  r.transport,
		BufferPool: &r.buffers,
		ErrorLog:   r.errLog,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			r.serveError(w, req, app, err)
		},
	}
}

// bufferPool lends the proxies their body copy buffers. The zero value is
// ready to use.
type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	buf = buf[:copyBufferSize]
	b.pool.Put(&buf)
}

package router

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap/zapcore"

	"pier/app"
)

// LetsEncrypt is the default ACME directory.
const LetsEncrypt = certmagic.LetsEncryptProductionCA

// TLSConfig configures the router's HTTPS. Zero values take the defaults.
type TLSConfig struct {
	// Storage keeps certificates, their keys, the ACME account and pier's
	// internal CA. Required.
	Storage certmagic.Storage
	// ACMEDirectory is the ACME server's directory URL. Default Let's
	// Encrypt (production).
	ACMEDirectory string
	// ACMEEmail is given to the ACME server for expiry notices; optional.
	ACMEEmail string
	// ACMERoots, if set, are the roots trusted for the ACME server's own
	// HTTPS (a test CA); nil trusts the system's.
	ACMERoots *x509.CertPool
	// HTTPPort and HTTPSPort are the ports the router serves HTTP and HTTPS
	// on; challenges are answered there (default 80 and 443). HTTPSPort is
	// also the port of redirect URLs.
	HTTPPort, HTTPSPort int
	// DisableHTTP01 and DisableTLSALPN01 turn one ACME challenge type off
	// (the listener still serves; the challenge is just not attempted).
	// pier serve uses both; tests exercise one at a time.
	DisableHTTP01, DisableTLSALPN01 bool
	// RenewCheckInterval and RenewalWindowRatio tune renewal; for tests.
	// Zero takes certmagic's defaults (10 minutes, the last third of a
	// certificate's lifetime).
	RenewCheckInterval time.Duration
	RenewalWindowRatio float64
	// CatchUp, if set, is called before an ACME challenge is answered:
	// in a cluster, another machine may have stored the answer a moment
	// ago, and this one's storage must hold it first.
	CatchUp func(context.Context) error
}

// certs is the router's certificate manager: one certmagic cache and two
// configurations over it, ACME for public names and pier's own CA for
// internal ones (see isInternal). Certificates are issued only for names the
// route table serves.
type certs struct {
	cache    *certmagic.Cache
	public   *certmagic.Config // on demand at handshakes, and renewals
	internal *certmagic.Config
	// eager obtains the certificate of a host as soon as it is served:
	// with OnDemand set, certmagic's Manage only allows a name and waits
	// for a handshake, so a public name would have no certificate (and
	// plain HTTP no redirect) until someone opened https:// first.
	eagerPublic, eagerInternal *certmagic.Config
	acme                       *certmagic.ACMEIssuer
	ca                         *internalCA
	port                       int // HTTPS port of redirect URLs; 443 is left out
	catchUp                    func(context.Context) error
	own                        func(host string) *tls.Certificate // Router.ownCertificate
	log                        *slog.Logger

	mu       sync.Mutex // serializes writes of secure and failures
	secure   atomic.Pointer[map[string]bool]
	failures atomic.Pointer[map[string]certFailure]
}

// EnableTLS sets up HTTPS: certificates are obtained for every host the
// route table serves, proactively when an app or domain appears and on
// demand during a TLS handshake, and renewed in the background; with a
// public domain, pier.<domain>'s is asked for at once, in the background
// (the router serves while it comes). Call it
// once, before Serve and ServeTLS, and before the first Set. Certificate
// maintenance (renewals) runs until ctx ends.
func (r *Router) EnableTLS(ctx context.Context, cfg TLSConfig) error {
	if cfg.Storage == nil {
		return errors.New("enable tls: no storage")
	}
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = 80
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = 443
	}
	ca, err := newInternalCA(ctx, cfg.Storage)
	if err != nil {
		r.log.Warn("internal CA not ready yet: made when first used", "err", err)
	}
	c := &certs{ca: ca, port: cfg.HTTPSPort, catchUp: cfg.CatchUp, own: r.ownCertificate, log: r.log.With("component", "certs")}
	c.secure.Store(&map[string]bool{})
	zlog := zapToSlog(c.log, zapcore.WarnLevel)
	c.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(cert certmagic.Certificate) (*certmagic.Config, error) {
			if len(cert.Names) > 0 && IsInternal(cert.Names[0]) {
				return c.internal, nil
			}
			return c.public, nil
		},
		RenewCheckInterval: cfg.RenewCheckInterval,
		Logger:             zlog,
	})
	base := certmagic.Config{
		Storage:            cfg.Storage,
		RenewalWindowRatio: cfg.RenewalWindowRatio,
		Logger:             zlog,
		OnDemand: &certmagic.OnDemandConfig{DecisionFunc: func(ctx context.Context, name string) error {
			if !r.serves(name) {
				return fmt.Errorf("%q is not served here", name)
			}
			return nil
		}},
		OnEvent: r.certEvent,
	}
	c.public = certmagic.New(c.cache, base)
	c.acme = certmagic.NewACMEIssuer(c.public, certmagic.ACMEIssuer{
		CA:             orDefault(cfg.ACMEDirectory, LetsEncrypt),
		Email:          cfg.ACMEEmail,
		Agreed:         true,
		TrustedRoots:   cfg.ACMERoots,
		AltHTTPPort:    cfg.HTTPPort,
		AltTLSALPNPort: cfg.HTTPSPort,
		Logger:         zlog,

		DisableHTTPChallenge:    cfg.DisableHTTP01,
		DisableTLSALPNChallenge: cfg.DisableTLSALPN01,
	})
	if cfg.ACMEDirectory != "" && cfg.ACMEDirectory != LetsEncrypt {
		c.acme.TestCA = cfg.ACMEDirectory
	}
	c.public.Issuers = []certmagic.Issuer{c.acme}
	c.internal = certmagic.New(c.cache, base)
	c.internal.Issuers = []certmagic.Issuer{ca}
	eager := base
	eager.OnDemand = nil
	c.eagerPublic = certmagic.New(c.cache, eager)
	c.eagerPublic.Issuers = c.public.Issuers
	c.eagerInternal = certmagic.New(c.cache, eager)
	c.eagerInternal.Issuers = c.internal.Issuers
	r.tls = c
	if r.reg != nil {
		r.reg.MustRegister(certExpiry{r})
	}
	go func() {
		<-ctx.Done()
		c.cache.Stop()
	}()
	for _, host := range r.hosts() {
		c.manage(host)
	}
	if !IsInternal(r.domain) {
		// The dashboard's name, at start rather than at the first
		// handshake; plain HTTP to it is redirected
		// meanwhile (serveDashboard). Internal names keep theirs on
		// demand: pier's CA signs them in a moment.
		c.manage("pier" + r.suffix)
	}
	return nil
}

// configFor returns the certmagic configuration that manages name.
func (c *certs) configFor(name string) *certmagic.Config {
	if IsInternal(name) {
		return c.internal
	}
	return c.public
}

// manage starts obtaining (or loading from storage) and renewing a
// certificate for host, in the background, now.
func (c *certs) manage(host string) {
	if c.own(host) != nil {
		return // its app's owner brought one
	}
	cfg := c.eagerPublic
	if IsInternal(host) {
		cfg = c.eagerInternal
	}
	if err := cfg.ManageAsync(context.Background(), []string{host}); err != nil {
		c.log.Warn("no certificate", "host", host, "err", err)
	}
}

// unmanage stops renewing host's certificate (a removed custom domain).
func (c *certs) unmanage(host string) {
	c.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: host}})
}

// getCertificate is the HTTPS listener's tls.Config.GetCertificate: an ACME
// TLS-ALPN-01 challenge answer, or the name's certificate (loaded, or
// obtained on demand if the route table serves the name).
func (c *certs) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if slices.Contains(hello.SupportedProtos, acmez.ACMETLS1Protocol) {
		c.catchUpFor(hello.Context())
	} else if cert := c.own(hello.ServerName); cert != nil {
		return cert, nil
	} else if f, next, failed := c.failure(hello.ServerName); failed && time.Now().Before(next) &&
		len(c.cache.AllMatchingCertificates(hello.ServerName)) == 0 {
		// Fail fast: obtaining it on demand would hold the handshake
		// for as long as the CA takes to refuse again.
		return nil, fmt.Errorf("no certificate for %s yet: %s (next try about %s)", hello.ServerName, f.err, next.UTC().Format(time.TimeOnly))
	}
	return c.configFor(hello.ServerName).GetCertificate(hello)
}

// challenges wraps the HTTP-01 challenge handler h: a challenge request
// waits for the storage to catch up first (see TLSConfig.CatchUp).
func (c *certs) challenges(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, acmeChallengePath) {
			c.catchUpFor(req.Context())
		}
		h.ServeHTTP(w, req)
	})
}

// catchUpFor calls CatchUp, if any; an error only means the answer may
// not be there yet.
func (c *certs) catchUpFor(ctx context.Context) {
	if c.catchUp == nil {
		return
	}
	if err := c.catchUp(ctx); err != nil {
		c.log.Warn("ACME challenge: storage may be behind", "err", err)
	}
}

// tlsConfig is the HTTPS listener's configuration: HTTP/2, HTTP/1.1, and
// acme-tls/1 so that TLS-ALPN-01 challenges can be answered.
func (c *certs) tlsConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: c.getCertificate,
		NextProtos:     []string{"h2", "http/1.1", acmez.ACMETLS1Protocol},
		MinVersion:     tls.VersionTLS12,
	}
}

// certEvent counts certificates obtained and failed, and records which
// public names have a certificate, so that their plain HTTP requests are
// redirected to HTTPS.
func (r *Router) certEvent(ctx context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained", "cert_failed":
		name, _ := data["identifier"].(string)
		issuer := "acme"
		if IsInternal(name) {
			issuer = "internal"
		}
		result := "obtained"
		if event == "cert_failed" {
			result = "failed"
			r.log.Warn("certificate not obtained", "name", name, "err", data["error"])
			r.tls.certFailed(strings.ToLower(name), data["error"])
		} else {
			renewal, _ := data["renewal"].(bool)
			r.log.Info("certificate obtained", "name", name, "issuer", issuer, "renewal", renewal)
			r.tls.markSecure(name)
			r.tls.certObtained(strings.ToLower(name))
		}
		r.metrics.certs.WithLabelValues(issuer, result).Inc()
	case "cached_managed_cert":
		names, _ := data["sans"].([]string)
		for _, n := range names {
			r.tls.markSecure(n)
		}
	}
	return nil
}

// markSecure records that a public name has a certificate. Internal names
// are left out: their certificates are trusted only where pier's CA was
// installed, so their plain HTTP keeps answering.
func (c *certs) markSecure(name string) {
	name = strings.ToLower(name)
	if IsInternal(name) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.secure.Load()
	if old[name] {
		return
	}
	next := maps.Clone(old)
	next[name] = true
	c.secure.Store(&next)
}

// redirect answers a plain HTTP request for a host with a certificate with
// a permanent redirect to HTTPS, and reports whether it did. ACME HTTP-01
// challenges are never redirected.
func (c *certs) redirect(w http.ResponseWriter, req *http.Request) bool {
	if req.TLS != nil || strings.HasPrefix(req.URL.Path, acmeChallengePath) {
		return false
	}
	host := normalHost(req.Host)
	if !(*c.secure.Load())[host] && (IsInternal(host) || c.own(host) == nil) {
		return false
	}
	c.toHTTPS(w, req)
	return true
}

// toHTTPS answers req with a permanent redirect to the same URL over HTTPS.
func (c *certs) toHTTPS(w http.ResponseWriter, req *http.Request) {
	u := "https://" + normalHost(req.Host)
	if c.port != 443 {
		u += ":" + strconv.Itoa(c.port)
	}
	http.Redirect(w, req, u+req.URL.RequestURI(), http.StatusPermanentRedirect)
}

// acmeChallengePath is where ACME HTTP-01 challenges are asked (RFC 8555
// section 8.3); certmagic answers them before the router sees them.
const acmeChallengePath = "/.well-known/acme-challenge/"

// CARoot returns the root certificate of pier's internal CA in PEM, for
// users to trust; nil if HTTPS is not enabled.
func (r *Router) CARoot() []byte {
	if r.tls == nil {
		return nil
	}
	k, err := r.tls.ca.keys(context.Background())
	if err != nil {
		r.log.Warn("internal CA", "err", err)
		return nil
	}
	return k.rootPEM
}

// Certificate reports host's certificate as certmagic's cache holds it,
// falling back to what storage has.
func (r *Router) Certificate(ctx context.Context, host string) app.CertStatus {
	info := app.CertStatus{Host: host, Status: "none"}
	if r.tls == nil {
		info.Status = "https disabled"
		return info
	}
	if own := r.ownCertificate(host); own != nil {
		info.NotAfter = own.Leaf.NotAfter.UTC()
		info.Issuer = own.Leaf.Issuer.CommonName + " (brought with certs:add)"
		info.Status = "valid"
		return info
	}
	var leaf *x509.Certificate
	for _, c := range r.tls.cache.AllMatchingCertificates(host) {
		if c.Leaf != nil && (leaf == nil || c.Leaf.NotAfter.After(leaf.NotAfter)) {
			leaf = c.Leaf
		}
	}
	if leaf == nil {
		if c, err := r.tls.configFor(host).CacheManagedCertificate(ctx, host); err == nil {
			leaf = c.Leaf
		}
	}
	if leaf == nil {
		if f, next, ok := r.tls.failure(host); ok {
			info.Status, info.LastError, info.NextTry = "failing", f.err, next.UTC()
		}
		return info
	}
	info.NotAfter = leaf.NotAfter.UTC()
	info.Issuer = leaf.Issuer.CommonName
	info.Status = "valid"
	if time.Now().After(leaf.NotAfter) {
		info.Status = "expired"
	}
	return info
}

// serves reports whether name is a host the router answers for: an app in
// the route table, or pier's own pier.<domain>.
func (r *Router) serves(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	return name == "pier"+r.suffix || r.lookup(name) != nil
}

// hosts lists the hosts of every app in the route table and every custom
// domain.
func (r *Router) hosts() []string {
	t, d := *r.routes.Load(), *r.domains.Load()
	out := make([]string, 0, len(t)+len(d))
	for app := range t {
		out = append(out, app+r.suffix)
	}
	for host := range d {
		out = append(out, host)
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

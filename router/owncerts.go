package router

import (
	"crypto/tls"
	"maps"
	"time"

	"pier/app"
)

// ownCerts are the certificates apps' owners brought (certs:add), by app.
type ownCerts map[string]*tls.Certificate

// SetCertificate implements node.Routes: the router serves c, in TLS
// handshakes for app's hosts that c covers, instead of a certificate it
// obtains. Another app's hosts never get it. An empty c removes app's.
func (r *Router) SetCertificate(name string, c app.AppCert) error {
	var cert *tls.Certificate
	if c.CertPEM != "" {
		var err error
		if cert, err = app.ParseAppCert(c); err != nil {
			return err
		}
	}
	r.ownMu.Lock()
	defer r.ownMu.Unlock()
	next := ownCerts{}
	if old := r.own.Load(); old != nil {
		next = maps.Clone(*old)
	}
	if cert == nil {
		delete(next, name)
	} else {
		next[name] = cert
	}
	r.own.Store(&next)
	return nil
}

// ownCertificate is the certificate an app's owner brought for host, if
// host is one of the app's and the certificate covers it and is in force.
func (r *Router) ownCertificate(host string) *tls.Certificate {
	own := r.own.Load()
	if own == nil || len(*own) == 0 {
		return nil
	}
	rt := r.lookup(host)
	if rt == nil {
		return nil
	}
	cert := (*own)[rt.app]
	if cert == nil || cert.Leaf.VerifyHostname(normalHost(host)) != nil {
		return nil
	}
	if now := time.Now(); now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore) {
		return nil
	}
	return cert
}

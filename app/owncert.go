package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxCertBytes bounds a certificate chain and key brought with certs:add.
const maxCertBytes = 64 << 10

// ParseAppCert checks c: a PEM chain whose leaf matches the PEM private
// key, in force now, naming at least one host. It returns it parsed, its
// Leaf set.
func ParseAppCert(c AppCert) (*tls.Certificate, error) {
	if len(c.CertPEM)+len(c.KeyPEM) > maxCertBytes {
		return nil, fmt.Errorf("the certificate and key take more than %d KiB", maxCertBytes>>10)
	}
	kp, err := tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM))
	if err != nil {
		return nil, fmt.Errorf("not a PEM certificate and its private key: %v", err)
	}
	if kp.Leaf == nil {
		if kp.Leaf, err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	switch {
	case now.After(kp.Leaf.NotAfter):
		return nil, fmt.Errorf("the certificate expired on %s", kp.Leaf.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(kp.Leaf.NotBefore):
		return nil, fmt.Errorf("the certificate is valid only from %s", kp.Leaf.NotBefore.UTC().Format(time.DateOnly))
	case len(kp.Leaf.DNSNames) == 0:
		return nil, errors.New("the certificate names no host (it has no DNS subject alternative name)")
	}
	return &kp, nil
}

// AddCert makes pier serve c for the app's hosts it covers instead of the
// certificates pier obtains, on every machine; it replaces one brought
// before. It returns the hosts c covers. A certificate that covers none of
// the app's hosts is refused, saying which names it has.
func (s *Routing) AddCert(ctx context.Context, name string, c AppCert) ([]string, error) {
	cert, err := ParseAppCert(c)
	if err != nil {
		return nil, err
	}
	hosts, err := s.Domains(ctx, name)
	if err != nil {
		return nil, err
	}
	var covered []string
	for _, h := range hosts {
		if cert.Leaf.VerifyHostname(h) == nil {
			covered = append(covered, h)
		}
	}
	if len(covered) == 0 {
		return nil, fmt.Errorf("the certificate is for %s, and %s answers at %s: add the domain first (domains:add %s %s)",
			strings.Join(cert.Leaf.DNSNames, ", "), name, strings.Join(hosts, ", "), name, strings.TrimPrefix(cert.Leaf.DNSNames[0], "*."))
	}
	unlock := s.lock(name)
	defer unlock()
	if err := s.apply(ctx, SetAppCert{App: name, Cert: c, At: time.Now().UTC()}); err != nil {
		return nil, err
	}
	return covered, nil
}

// RemoveCert stops serving the certificate the app's owner brought; pier
// obtains the app's certificates again. ErrNotFound if there is none.
func (s *Routing) RemoveCert(ctx context.Context, name string) error {
	if _, err := s.app(ctx, name); err != nil {
		return err
	}
	unlock := s.lock(name)
	defer unlock()
	if _, ok, err := s.store.AppCert(ctx, name); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s has no certificate of its own (certs:add adds one): %w", name, ErrNotFound)
	}
	return s.apply(ctx, SetAppCert{App: name})
}

package router

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// The internal CA's keys in certmagic's storage, and how long what it signs
// lasts. Leaves are short-lived and renewed by certmagic like any other
// certificate.
const (
	caCertKey    = "pier/ca/root.crt"
	caKeyKey     = "pier/ca/root.key"
	caLockName   = "pier_internal_ca"
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 7 * 24 * time.Hour
)

// internalSuffixes are the names pier's own CA signs for (besides IP
// addresses): they can never get a certificate from a public CA. The root
// carries them as name constraints, so a leaked root key cannot be used to
// impersonate any other site to people who trusted it.
var internalSuffixes = []string{"localhost", "local", "internal", "home.arpa"}

// IsInternal reports whether name gets its certificate from pier's own CA
// (no public CA signs it): an IP address, localhost, or a name under
// .localhost, .local, .internal or .home.arpa.
func IsInternal(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if net.ParseIP(name) != nil {
		return true
	}
	for _, s := range internalSuffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

// internalCA is a certmagic.Issuer that signs certificates for internal
// names with a root pier creates once and keeps in certmagic's storage.
// The root is read from storage when it is used, so that a machine joining
// a cluster signs with the cluster's root from then on.
type internalCA struct {
	st certmagic.Storage

	mu  sync.Mutex
	cur *caKeys // as last read
}

// caKeys are the CA's root and its key.
type caKeys struct {
	root    *x509.Certificate
	rootPEM []byte
	key     crypto.Signer
}

var _ certmagic.Issuer = (*internalCA)(nil)

// newInternalCA returns pier's CA over st, creating its root if st has
// none yet. A root that cannot be read or made now (a machine of a
// cluster makes changes only once its part runs) is made when it is
// first used; the error says why it was not.
func newInternalCA(ctx context.Context, st certmagic.Storage) (*internalCA, error) {
	ca := &internalCA{st: st}
	_, err := ca.keys(ctx)
	return ca, err
}

// keys returns the root as storage holds it now, parsed again only when
// it changed.
func (ca *internalCA) keys(ctx context.Context) (*caKeys, error) {
	certPEM, err := ca.st.Load(ctx, caCertKey)
	ca.mu.Lock()
	cur := ca.cur
	ca.mu.Unlock()
	if err == nil && cur != nil && bytes.Equal(certPEM, cur.rootPEM) {
		return cur, nil
	}
	k, err := loadInternalCA(ctx, ca.st)
	if err != nil {
		return nil, err
	}
	ca.mu.Lock()
	ca.cur = k
	ca.mu.Unlock()
	return k, nil
}

// loadInternalCA loads pier's CA from storage, creating it on first use.
// Creation happens under a storage lock so that two processes sharing the
// storage end up with one CA.
func loadInternalCA(ctx context.Context, st certmagic.Storage) (*caKeys, error) {
	if ca, err := readCA(ctx, st); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ca, err
	}
	if err := st.Lock(ctx, caLockName); err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	defer st.Unlock(context.WithoutCancel(ctx), caLockName)
	if ca, err := readCA(ctx, st); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ca, err
	}
	certPEM, keyPEM, err := newRoot()
	if err != nil {
		return nil, fmt.Errorf("create internal CA: %w", err)
	}
	if err := st.Store(ctx, caKeyKey, keyPEM); err != nil {
		return nil, fmt.Errorf("store internal CA: %w", err)
	}
	if err := st.Store(ctx, caCertKey, certPEM); err != nil {
		return nil, fmt.Errorf("store internal CA: %w", err)
	}
	return readCA(ctx, st)
}

func readCA(ctx context.Context, st certmagic.Storage) (*caKeys, error) {
	certPEM, err := st.Load(ctx, caCertKey)
	if err != nil {
		return nil, err
	}
	keyPEM, err := st.Load(ctx, caKeyKey)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, fmt.Errorf("internal CA: %s is not PEM", caCertKey)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	key, err := certmagic.PEMDecodePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	return &caKeys{root: root, rootPEM: certPEM, key: key}, nil
}

func newRoot() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "pier local CA " + serial.Text(16)[:8], Organization: []string{"pier"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// Only internal names and IP addresses (RFC 5280 4.2.1.10).
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         internalSuffixes,
		PermittedIPRanges: []*net.IPNet{
			{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = certmagic.PEMEncodePrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// IssuerKey implements certmagic.Issuer.
func (ca *internalCA) IssuerKey() string { return "pier-internal" }

// Issue implements certmagic.Issuer: it signs csr's names, which must all
// be internal (see isInternal), for leafLifetime.
func (ca *internalCA) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	for _, n := range csr.DNSNames {
		if !IsInternal(n) {
			return nil, fmt.Errorf("internal CA: %q is not an internal name", n)
		}
	}
	if len(csr.DNSNames)+len(csr.IPAddresses) == 0 {
		return nil, errors.New("internal CA: no names to sign")
	}
	k, err := ca.keys(ctx)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(leafLifetime)
	if notAfter.After(k.root.NotAfter) {
		notAfter = k.root.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: firstName(csr)},
		DNSNames:     csr.DNSNames,
		IPAddresses:  csr.IPAddresses,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, k.root, csr.PublicKey, k.key)
	if err != nil {
		return nil, fmt.Errorf("internal CA: sign: %w", err)
	}
	return &certmagic.IssuedCertificate{Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func firstName(csr *x509.CertificateRequest) string {
	if len(csr.DNSNames) > 0 {
		return csr.DNSNames[0]
	}
	return csr.IPAddresses[0].String()
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

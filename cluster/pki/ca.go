package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CALifetime is how long a CA made by NewCA is valid.
const CALifetime = 10 * 365 * 24 * time.Hour

// backdate is how far before its making a certificate becomes valid, for
// nodes whose clock runs behind (see the package comment).
const backdate = time.Hour

// ErrBadCSR is returned by CA.Sign for a certificate request it will not
// sign: unreadable, too large, of the wrong key type, or not signed by the
// key it carries. The joiner sent a bad request; a join endpoint answers it
// with a client error.
var ErrBadCSR = errors.New("bad certificate request")

// maxCSRLen bounds the certificate request CA.Sign parses; a P-256 request
// is about 250 bytes.
const maxCSRLen = 4096

// maxIPs bounds the addresses one node certificate names.
const maxIPs = 16

// A CA is the cluster's certificate authority: a self-signed ECDSA P-256
// certificate and its private key. Every node certificate is signed by it and
// every node trusts it alone. A CA does not change once made; its methods
// are safe for concurrent use.
type CA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	keyDER []byte // PKCS #8
}

// NewCA makes a CA named name (its certificate's common name, at most 64
// bytes), valid from an hour before now for CALifetime.
func NewCA(name string, now time.Time) (*CA, error) {
	if name == "" || len(name) > 64 {
		return nil, fmt.Errorf("new CA: name %q: want 1 to 64 bytes", trim(name))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs node certificates, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	return newCA(cert, key)
}

// LoadCA reads a CA written with CertPEM and KeyPEM. It refuses a
// certificate that is not a CA's and a key that is not the certificate's.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("load CA: %q is not a CA certificate", trim(cert.Subject.CommonName))
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("load CA: the key is not the key of CA %q", trim(cert.Subject.CommonName))
	}
	return newCA(cert, key)
}

func newCA(cert *x509.Certificate, key *ecdsa.PrivateKey) (*CA, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return &CA{cert: cert, key: key, keyDER: der}, nil
}

// Cert returns the CA's certificate. Callers must not modify it.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// CertPEM returns the CA's certificate as one PEM "CERTIFICATE" block. It is
// public: every node stores it, and a joiner receives it.
func (ca *CA) CertPEM() []byte { return encodePEM(pemCert, ca.cert.Raw) }

// KeyPEM returns the CA's private key as an unencrypted PKCS #8 PEM
// "PRIVATE KEY" block. Whoever holds it can admit any machine to the
// cluster: store it readable by pier alone (mode 0600), on servers only.
func (ca *CA) KeyPEM() []byte { return encodePEM(pemKey, ca.keyDER) }

// CertPool returns a new pool holding the CA's certificate alone, for
// ServerTLS and ClientTLS.
func (ca *CA) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// Sign issues the certificate of node name for the key in csrDER, a DER
// certificate request (see CSR), and returns it as one PEM "CERTIFICATE"
// block. The certificate is valid from an hour before now for ttl, cut short
// at the CA's own expiry; it is for both server and client authentication;
// its common name and only DNS name are name, and its IP addresses are ips.
//
// The CA decides what the certificate says: the names, addresses and
// extensions the request asks for are ignored. The request must be signed by
// the key it carries, an ECDSA P-256 key, or Sign returns an error wrapping
// ErrBadCSR. name must be a lowercase DNS name (letters, digits and dashes in
// dot-separated labels of at most 63 characters, 253 in all).
func (ca *CA) Sign(csrDER []byte, name string, ips []net.IP, ttl time.Duration, now time.Time) ([]byte, error) {
	if err := validNodeName(name); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("sign %s: lifetime %v is not positive", name, ttl)
	}
	if len(ips) > maxIPs {
		return nil, fmt.Errorf("sign %s: %d IP addresses, at most %d", name, len(ips), maxIPs)
	}
	if len(csrDER) > maxCSRLen {
		return nil, fmt.Errorf("sign %s: %w: %d bytes, at most %d", name, ErrBadCSR, len(csrDER), maxCSRLen)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		// encoding/asn1's errors describe its internals, not the request.
		return nil, fmt.Errorf("sign %s: %w: not a DER certificate request", name, ErrBadCSR)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("sign %s: %w: %v", name, ErrBadCSR, err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("sign %s: %w: the key is not ECDSA P-256", name, ErrBadCSR)
	}
	notAfter := now.Add(ttl)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		IPAddresses:           append([]net.IP(nil), ips...),
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", name, err)
	}
	return encodePEM(pemCert, der), nil
}

// serialNumber returns a random 128-bit serial number (RFC 5280 allows up
// to 20 bytes; randomness keeps two certificates from ever sharing one).
func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"strings"
)

// PEM block types pki writes and reads.
const (
	pemCert = "CERTIFICATE"
	pemKey  = "PRIVATE KEY" // PKCS #8
)

// NewNodeKey makes a node's private key: ECDSA P-256, the only kind CA.Sign
// accepts. The key never leaves the node; store it with EncodeKeyPEM,
// readable by pier alone (mode 0600).
func NewNodeKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new node key: %w", err)
	}
	return key, nil
}

// CSR returns a DER certificate request for key, signed by it, naming node
// name. The CA decides what the certificate says (see CA.Sign); the name in
// the request is only for the server's log.
func CSR(key *ecdsa.PrivateKey, name string) ([]byte, error) {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request for %s: %w", trim(name), err)
	}
	return der, nil
}

// EncodeKeyPEM returns key as an unencrypted PKCS #8 PEM "PRIVATE KEY"
// block; ParseKeyPEM reads it back.
func EncodeKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return encodePEM(pemKey, der), nil
}

// ParseKeyPEM reads the first PEM block of b, which must be a PKCS #8
// "PRIVATE KEY" holding an ECDSA P-256 key.
func ParseKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	der, err := decodePEM(b, pemKey)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("read key: a %T, want an ECDSA P-256 key", k)
	}
	return key, nil
}

// ParseCertPEM reads the first PEM block of b, which must be a
// "CERTIFICATE".
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	der, err := decodePEM(b, pemCert)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	return cert, nil
}

// NodeCertificate puts a node's certificate (certPEM, as CA.Sign returned
// it), its key (keyPEM) and the cluster CA together into what ServerTLS and
// ClientTLS take. The chain it holds is the node certificate followed by the
// CA's, because a joiner finds the CA to check against its pin in the chain
// the server presents (see PinnedTLS).
//
// It refuses a key that is not the certificate's and a certificate the CA
// did not sign. It does not look at validity dates: the handshake does, on
// the clock of the other side.
func NodeCertificate(certPEM, keyPEM []byte, ca *x509.Certificate) (tls.Certificate, error) {
	leaf, err := ParseCertPEM(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate: %w", err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate: %w", err)
	}
	name := trim(leaf.Subject.CommonName)
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return tls.Certificate{}, fmt.Errorf("node certificate %s: the key is not the certificate's", name)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate %s: not signed by CA %q: %w", name, trim(ca.Subject.CommonName), err)
	}
	return tls.Certificate{
		Certificate: [][]byte{leaf.Raw, ca.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

func encodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func decodePEM(b []byte, typ string) ([]byte, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", trim(block.Type), typ)
	}
	return block.Bytes, nil
}

// validNodeName returns nil if name can be a node's name, which is the DNS
// name its certificate carries: lowercase letters, digits and dashes in
// dot-separated labels of 1 to 63 characters that neither start nor end
// with a dash, 253 characters in all.
func validNodeName(name string) error {
	if name == "" {
		return fmt.Errorf("node name is empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("node name %q is %d characters long, at most 253", trim(name), len(name))
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("node name %q is not a DNS name: use lowercase letters, digits and dashes in dot-separated labels of up to 63", trim(name))
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return fmt.Errorf("node name %q is not a DNS name: use lowercase letters, digits and dashes in dot-separated labels of up to 63", trim(name))
			}
		}
	}
	return nil
}

// trim shortens hostile input before an error echoes it back.
func trim(s string) string {
	const max = 64
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

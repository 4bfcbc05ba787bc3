package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
	"time"

	"pier/cluster/pki"
)

// loopback is the address every test node's certificate names and every
// test server listens on.
var loopback = net.IPv4(127, 0, 0, 1)

func newCA(t *testing.T, name string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// newNode makes a key for node name, has ca sign it for loopback, and
// returns the certificate as a node holds it.
func newNode(t *testing.T, ca *pki.CA, name string) tls.Certificate {
	t.Helper()
	return newNodeAt(t, ca, name, time.Now())
}

// newNodeAt is newNode with the CA's clock at now.
func newNodeAt(t *testing.T, ca *pki.CA, name string, now time.Time) tls.Certificate {
	t.Helper()
	key, err := pki.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.CSR(key, name)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.Sign(csr, name, []net.IP{loopback}, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.NodeCertificate(certPEM, keyPEM, ca.Cert())
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func parseCert(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	c, err := pki.ParseCertPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

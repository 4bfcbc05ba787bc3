package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"pier/cluster/pki"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestNewCA(t *testing.T) {
	ca, err := pki.NewCA("pier cluster", now)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Cert()
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	for _, check := range []struct {
		name      string
		got, want any
	}{
		{"common name", c.Subject.CommonName, "pier cluster"},
		{"is a CA", c.IsCA && c.BasicConstraintsValid, true},
		{"signs no CA", c.MaxPathLen == 0 && c.MaxPathLenZero, true},
		{"key usage", c.KeyUsage, x509.KeyUsageCertSign | x509.KeyUsageCRLSign},
		{"key", c.PublicKeyAlgorithm.String() + " " + c.PublicKey.(*ecdsa.PublicKey).Curve.Params().Name, "ECDSA P-256"},
		{"not before", c.NotBefore, now.Add(-time.Hour)},
		{"not after", c.NotAfter, now.Add(pki.CALifetime)},
	} {
		if check.got != check.want {
			t.Errorf("%s: got %v, want %v", check.name, check.got, check.want)
		}
	}
}

func TestNewCARefusesBadName(t *testing.T) {
	for _, name := range []string{"", strings.Repeat("x", 65)} {
		if _, err := pki.NewCA(name, now); err == nil {
			t.Errorf("NewCA(%q): got no error", name)
		}
	}
}

func TestLoadCA(t *testing.T) {
	ca := newCA(t, "cluster")
	loaded, err := pki.LoadCA(ca.CertPEM(), ca.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pki.Pin(loaded.Cert()), pki.Pin(ca.Cert()); got != want {
		t.Errorf("pin: got %q, want %q", got, want)
	}
	if !bytes.Equal(loaded.KeyPEM(), ca.KeyPEM()) {
		t.Errorf("key: got %q, want %q", loaded.KeyPEM(), ca.KeyPEM())
	}
	// What the loaded CA signs, the original's pool trusts.
	leaf := newNode(t, loaded, "pi2").Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.CertPool(), DNSName: "pi2"}); err != nil {
		t.Errorf("certificate signed by the loaded CA: %v", err)
	}
}

func TestLoadCARefuses(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "other")
	nodeKey, err := pki.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	nodeKeyPEM, err := pki.EncodeKeyPEM(nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.CSR(nodeKey, "pi2")
	if err != nil {
		t.Fatal(err)
	}
	nodeCertPEM, err := ca.Sign(csr, "pi2", nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		certPEM, keyPEM []byte
		want            string
	}{
		{"key of another CA", ca.CertPEM(), other.KeyPEM(), `load CA: the key is not the key of CA "cluster"`},
		{"node certificate", nodeCertPEM, nodeKeyPEM, `load CA: "pi2" is not a CA certificate`},
		{"key where the certificate goes", ca.KeyPEM(), ca.KeyPEM(), `load CA: read certificate: PEM block is "PRIVATE KEY", want "CERTIFICATE"`},
		{"not PEM", []byte("hello"), ca.KeyPEM(), "load CA: read certificate: no PEM block"},
		{"no key", ca.CertPEM(), nil, "load CA: read key: no PEM block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.LoadCA(tc.certPEM, tc.keyPEM)
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSignDecidesTheNames(t *testing.T) {
	ca := newCA(t, "cluster")
	key, err := pki.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	// A request that asks for more than a node may have.
	evil, _ := url.Parse("spiffe://cluster/admin")
	tmpl := &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "pi1", Organization: []string{"admins"}},
		DNSNames:       []string{"pi1", "*.example.com", "localhost"},
		IPAddresses:    []net.IP{net.IPv4(10, 6, 6, 6)},
		EmailAddresses: []string{"root@example.com"},
		URIs:           []*url.URL{evil},
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	ips := []net.IP{net.IPv4(192, 168, 1, 12), net.ParseIP("fd00::12")}
	certPEM, err := ca.Sign(csr, "pi2", ips, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c := parseCert(t, certPEM)
	if err := c.CheckSignatureFrom(ca.Cert()); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	if !key.PublicKey.Equal(c.PublicKey) {
		t.Errorf("the certificate is not for the request's key")
	}
	for _, check := range []struct {
		name      string
		got, want string
	}{
		{"subject", c.Subject.String(), "CN=pi2"},
		{"DNS names", strings.Join(c.DNSNames, ","), "pi2"},
		{"IP addresses", joinIPs(c.IPAddresses), "192.168.1.12,fd00::12"},
		{"email addresses", strings.Join(c.EmailAddresses, ","), ""},
		{"URIs", strings.Join(urls(c.URIs), ","), ""},
		{"not before", c.NotBefore.String(), now.Add(-time.Hour).String()},
		{"not after", c.NotAfter.String(), now.Add(24 * time.Hour).String()},
	} {
		if check.got != check.want {
			t.Errorf("%s: got %q, want %q", check.name, check.got, check.want)
		}
	}
	if c.IsCA {
		t.Errorf("a node certificate is a CA")
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(c.ExtKeyUsage, want) {
		t.Errorf("extended key usage: got %v, want %v", c.ExtKeyUsage, want)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage: got %v, want %v", c.KeyUsage, x509.KeyUsageDigitalSignature)
	}
}

func TestSignEndsWithTheCA(t *testing.T) {
	ca, err := pki.NewCA("cluster", now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewNodeKey()
	csr, _ := pki.CSR(key, "pi2")
	certPEM, err := ca.Sign(csr, "pi2", nil, 20*365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := parseCert(t, certPEM).NotAfter, ca.Cert().NotAfter; !got.Equal(want) {
		t.Errorf("not after: got %v, want the CA's %v", got, want)
	}
}

func TestSignRefuses(t *testing.T) {
	ca := newCA(t, "cluster")
	key, _ := pki.NewNodeKey()
	csr, err := pki.CSR(key, "pi2")
	if err != nil {
		t.Fatal(err)
	}
	badSig := bytes.Clone(csr)
	badSig[len(badSig)-1] ^= 0xff // the last byte of the signature
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384CSR, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, p384)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		csr    []byte
		node   string
		ips    []net.IP
		ttl    time.Duration
		want   string
		wantIs error
	}{
		{name: "bad signature", csr: badSig, node: "pi2", ttl: time.Hour,
			want: "sign pi2: bad certificate request: x509: ECDSA verification failure", wantIs: pki.ErrBadCSR},
		{name: "not DER", csr: []byte("hello"), node: "pi2", ttl: time.Hour,
			want: "sign pi2: bad certificate request: not a DER certificate request", wantIs: pki.ErrBadCSR},
		{name: "oversize", csr: make([]byte, 5000), node: "pi2", ttl: time.Hour,
			want: "sign pi2: bad certificate request: 5000 bytes, at most 4096", wantIs: pki.ErrBadCSR},
		{name: "P-384 key", csr: p384CSR, node: "pi2", ttl: time.Hour,
			want: "sign pi2: bad certificate request: the key is not ECDSA P-256", wantIs: pki.ErrBadCSR},
		{name: "upper case name", csr: csr, node: "Pi2", ttl: time.Hour,
			want: `sign: node name "Pi2" is not a DNS name: use lowercase letters, digits and dashes in dot-separated labels of up to 63`},
		{name: "empty name", csr: csr, node: "", ttl: time.Hour,
			want: "sign: node name is empty"},
		{name: "empty label", csr: csr, node: "pi2..lan", ttl: time.Hour,
			want: `sign: node name "pi2..lan" is not a DNS name: use lowercase letters, digits and dashes in dot-separated labels of up to 63`},
		{name: "zero lifetime", csr: csr, node: "pi2",
			want: "sign pi2: lifetime 0s is not positive"},
		{name: "too many addresses", csr: csr, node: "pi2", ips: make([]net.IP, 17), ttl: time.Hour,
			want: "sign pi2: 17 IP addresses, at most 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.Sign(tc.csr, tc.node, tc.ips, tc.ttl, now)
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("got %q, want it to wrap %q", err, tc.wantIs)
			}
		})
	}
}

func TestNodeCertificate(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "other")
	key, _ := pki.NewNodeKey()
	keyPEM, _ := pki.EncodeKeyPEM(key)
	otherKey, _ := pki.NewNodeKey()
	otherKeyPEM, _ := pki.EncodeKeyPEM(otherKey)
	csr, _ := pki.CSR(key, "pi2")
	certPEM, err := ca.Sign(csr, "pi2", nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	cert, err := pki.NodeCertificate(certPEM, keyPEM, ca.Cert())
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[0], cert.Leaf.Raw) || !bytes.Equal(cert.Certificate[1], ca.Cert().Raw) {
		t.Errorf("got a chain of %d, want the node's certificate then the CA's", len(cert.Certificate))
	}

	for _, tc := range []struct {
		name   string
		keyPEM []byte
		ca     *x509.Certificate
		want   string
	}{
		{"another key", otherKeyPEM, ca.Cert(), "node certificate pi2: the key is not the certificate's"},
		{"another CA", keyPEM, other.Cert(), `node certificate pi2: not signed by CA "other": x509: ECDSA verification failure`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.NodeCertificate(certPEM, tc.keyPEM, tc.ca)
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKeyPEM(t *testing.T) {
	key, err := pki.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("got %q, want a PKCS #8 PEM block", b)
	}
	back, err := pki.ParseKeyPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(key) {
		t.Errorf("the key read back is not the key written")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	b384 := pemBlock("PRIVATE KEY", der)
	if _, err := pki.ParseKeyPEM(b384); err == nil || err.Error() != "read key: a *ecdsa.PrivateKey, want an ECDSA P-256 key" {
		t.Errorf("P-384 key: got %v, want it refused", err)
	}
}

func joinIPs(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

func urls(us []*url.URL) []string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = u.String()
	}
	return s
}

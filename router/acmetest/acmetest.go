// Package acmetest runs Pebble, Let's Encrypt's test ACME server, in a
// test's process: the ACME CA pier's certificate tests obtain from.
package acmetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/challtestsrv"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// Options tune Pebble. The zero value issues certificates valid 90 days
// and calls every challenge valid, so that no network is needed.
type Options struct {
	// Validity of the certificates Pebble issues; 0 is its default.
	Validity time.Duration
	// Validate makes Pebble check challenges for real: HTTP-01 on
	// HTTPPort and TLS-ALPN-01 on TLSPort of the address a name resolves
	// to, through a DNS server in the test process that answers Resolve
	// for every name (SetAddress changes one name's).
	Validate          bool
	HTTPPort, TLSPort int
	Resolve           string
	// Listen is the address Pebble's ACME API and DNS server listen on;
	// default 127.0.0.1.
	Listen string
	// OnOrder, if set, is called with the address of the client (host
	// only) and the names of each new order, before Pebble sees it.
	OnOrder func(client string, names []string)
}

// Pebble is a running ACME server.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// TLSRoots trust the ACME server's own HTTPS; RootsFile holds them
	// in PEM.
	TLSRoots  *x509.CertPool
	RootsFile string
	// Roots are what the certificates Pebble issues chain to.
	Roots *x509.CertPool

	dns     *challtestsrv.ChallSrv
	onOrder func(string, []string)
	mu      sync.Mutex
	ordered []string // every name an order asked for
}

// Start starts Pebble; it stops at the test's cleanup.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	listen := o.Listen
	if listen == "" {
		listen = "127.0.0.1"
	}
	if o.Validate {
		t.Setenv("PEBBLE_VA_ALWAYS_VALID", "0")
	} else {
		t.Setenv("PEBBLE_VA_ALWAYS_VALID", "1")
		o.HTTPPort, o.TLSPort = 80, 443
	}
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	p := &Pebble{Roots: x509.NewCertPool(), TLSRoots: x509.NewCertPool(), onOrder: o.OnOrder}
	resolver := ""
	if o.Validate {
		resolver = net.JoinHostPort(listen, freePort(t, listen))
		dns, err := challtestsrv.New(challtestsrv.Config{DNSAddrs: []string{resolver}, Log: log.New(io.Discard, "", 0)})
		if err != nil {
			t.Fatal(err)
		}
		dns.SetDefaultDNSIPv4(o.Resolve)
		dns.SetDefaultDNSIPv6("")
		go dns.Run()
		t.Cleanup(dns.Shutdown)
		p.dns = dns
	}
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test", ValidityPeriod: uint64(o.Validity / time.Second)},
	})
	front := wfe.New(logger, store, va.New(logger, o.HTTPPort, o.TLSPort, false, resolver, store), authority,
		[]string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewUnstartedServer(p.recordOrders(front.Handler()))
	ln, err := net.Listen("tcp", net.JoinHostPort(listen, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	cert, err := selfSigned(listen)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.Directory = srv.URL + wfe.DirectoryPath
	p.TLSRoots.AddCert(cert.Leaf)
	p.Roots.AddCert(authority.GetRootCert(0).Cert)
	p.RootsFile = filepath.Join(t.TempDir(), "pebble-roots.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw})
	if err := os.WriteFile(p.RootsFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// SetAddress makes name resolve to the IPv4 address ip, for the
// challenges Pebble validates from now on.
func (p *Pebble) SetAddress(name, ip string) {
	p.dns.AddDNSARecord(name, []string{ip})
}

// OrderedNames lists the names of every order so far, once per order.
func (p *Pebble) OrderedNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ordered)
}

// Orders counts the orders that asked for name.
func (p *Pebble) Orders(name string) int {
	n := 0
	for _, o := range p.OrderedNames() {
		if o == name {
			n++
		}
	}
	return n
}

// recordOrders notes the names of every new order (the JWS payload of a
// POST to /order-plz).
func (p *Pebble) recordOrders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/order-plz" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var jws struct{ Payload string }
			var order struct{ Identifiers []struct{ Value string } }
			json.Unmarshal(body, &jws)
			payload, _ := base64.RawURLEncoding.DecodeString(jws.Payload)
			json.Unmarshal(payload, &order)
			var names []string
			for _, id := range order.Identifiers {
				names = append(names, id.Value)
			}
			p.mu.Lock()
			p.ordered = append(p.ordered, names...)
			p.mu.Unlock()
			if p.onOrder != nil {
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				p.onOrder(host, names)
			}
		}
		h.ServeHTTP(w, r)
	})
}

func freePort(t testing.TB, host string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// selfSigned makes the certificate of the ACME API's HTTPS for host (an
// IP address or a name).
func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pebble " + host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

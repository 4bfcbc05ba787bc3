package router

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
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
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"pier/store"
)

// pebble is an ACME server (Let's Encrypt's test CA) running in the test
// process. Its validation authority calls every challenge valid, so no
// network is needed.
type pebble struct {
	directory string
	tlsRoots  *x509.CertPool // for the ACME server's own HTTPS
	roots     *x509.CertPool // what the certificates it issues chain to

	mu      sync.Mutex
	ordered []string // every name an order asked for
}

// startPebble starts Pebble issuing certificates valid for validity
// (0: Pebble's default of 90 days). Every challenge passes.
func startPebble(t *testing.T, validity time.Duration) *pebble {
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "1")
	return newPebble(t, validity, 80, 443, "")
}

// startValidatingPebble starts Pebble validating challenges for real, on
// loopback: every name resolves to 127.0.0.1 (through a DNS server in the
// test process) and HTTP-01 and TLS-ALPN-01 are checked on httpPort and
// tlsPort.
func startValidatingPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "0")
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	dns, err := challtestsrv.New(challtestsrv.Config{DNSAddrs: []string{dnsAddr}, Log: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	dns.SetDefaultDNSIPv4("127.0.0.1")
	dns.SetDefaultDNSIPv6("")
	go dns.Run()
	t.Cleanup(dns.Shutdown)
	return newPebble(t, 0, httpPort, tlsPort, dnsAddr)
}

func newPebble(t *testing.T, validity time.Duration, httpPort, tlsPort int, resolver string) *pebble {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test", ValidityPeriod: uint64(validity / time.Second)},
	})
	front := wfe.New(logger, store, va.New(logger, httpPort, tlsPort, false, resolver, store), authority,
		[]string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	p := &pebble{roots: x509.NewCertPool(), tlsRoots: x509.NewCertPool()}
	srv := httptest.NewTLSServer(p.recordOrders(front.Handler()))
	t.Cleanup(srv.Close)
	p.directory = srv.URL + wfe.DirectoryPath
	p.tlsRoots.AddCert(srv.Certificate())
	p.roots.AddCert(authority.GetRootCert(0).Cert)
	return p
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// recordOrders notes the names of every new order (the JWS payload of a
// POST to /order-plz).
func (p *pebble) recordOrders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/order-plz" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var jws struct{ Payload string }
			var order struct{ Identifiers []struct{ Value string } }
			json.Unmarshal(body, &jws)
			payload, _ := base64.RawURLEncoding.DecodeString(jws.Payload)
			json.Unmarshal(payload, &order)
			p.mu.Lock()
			for _, id := range order.Identifiers {
				p.ordered = append(p.ordered, id.Value)
			}
			p.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (p *pebble) orderedNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ordered)
}

// tlsRouter returns a router for apps under domain with HTTPS through
// Pebble (or, for internal names, pier's CA), its certificates kept in a
// real store, serving HTTP and HTTPS on loopback until the test ends.
func tlsRouter(t *testing.T, domain string, p *pebble, tune func(*TLSConfig)) (r *Router, httpAddr, httpsAddr string, reg *prometheus.Registry) {
	t.Helper()
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	r, reg = tlsRouterOn(t, domain, p, tune, httpLn, httpsLn)
	return r, httpLn.Addr().String(), httpsLn.Addr().String(), reg
}

func tlsRouterOn(t *testing.T, domain string, p *pebble, tune func(*TLSConfig), httpLn, httpsLn net.Listener) (*Router, *prometheus.Registry) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	r := New(Config{Domain: domain, Log: testLog(t), Metrics: reg})
	cfg := TLSConfig{
		Storage:   st.Certs(),
		HTTPPort:  httpLn.Addr().(*net.TCPAddr).Port,
		HTTPSPort: httpsLn.Addr().(*net.TCPAddr).Port,
	}
	if p != nil {
		cfg.ACMEDirectory, cfg.ACMERoots = p.directory, p.tlsRoots
	}
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.EnableTLS(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { r.Serve(ctx, httpLn); done <- struct{}{} }()
	go func() { r.ServeTLS(ctx, httpsLn); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return r, reg
}

// httpsClient connects to addr whatever the URL's host, verifying the
// server's certificate for that host against roots.
func httpsClient(addr string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// getTLS fetches https://host/path through addr until it answers or 15 s
// pass (a certificate may still be on its way).
func getTLS(t *testing.T, addr, host string, roots *x509.CertPool) (*http.Response, string) {
	t.Helper()
	c := httpsClient(addr, roots)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get("https://" + host + "/")
		if err == nil {
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET https://%s/: %v", host, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestACMECertificates(t *testing.T) {
	p := startPebble(t, 0)
	r, httpAddr, httpsAddr, reg := tlsRouter(t, "example.com", p, nil)
	r.Set("hello", []string{namedBackend(t, "hello")})

	// The certificate comes as soon as the app is routed, before anyone
	// opens https://, and plain HTTP is redirected from then on.
	deadline := time.Now().Add(30 * time.Second)
	for r.Certificate(context.Background(), "hello.example.com").Status != "valid" {
		if time.Now().After(deadline) {
			t.Fatalf("no certificate without a handshake: %+v", r.Certificate(context.Background(), "hello.example.com"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		code, _, _ := getHeader(t, httpAddr, "hello.example.com", "/")
		if code == http.StatusPermanentRedirect {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plain HTTP with a certificate obtained: %d, want a redirect", code)
		}
		time.Sleep(50 * time.Millisecond)
	}

	resp, body := getTLS(t, httpsAddr, "hello.example.com", p.roots)
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("GET https://hello.example.com: %d %q", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("served over %s, want HTTP/2", resp.Proto)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if !slices.Contains(leaf.DNSNames, "hello.example.com") {
		t.Errorf("certificate names %q", leaf.DNSNames)
	}
	if info := r.Certificate(context.Background(), "hello.example.com"); info.Status != "valid" || info.NotAfter.Before(time.Now()) {
		t.Errorf("Certificate: %+v", info)
	}

	t.Run("a custom domain gets its own certificate", func(t *testing.T) {
		r.SetDomains("hello", []string{"www.example.org"})
		resp, body := getTLS(t, httpsAddr, "www.example.org", p.roots)
		if resp.StatusCode != 200 || body != "hello" || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "www.example.org") {
			t.Fatalf("GET https://www.example.org: %d %q, names %q", resp.StatusCode, body, resp.TLS.PeerCertificates[0].DNSNames)
		}
		if info := r.Certificate(context.Background(), "www.example.org"); info.Status != "valid" {
			t.Errorf("Certificate: %+v", info)
		}
	})

	t.Run("pier's own host is issued on demand", func(t *testing.T) {
		// Nothing asked for it ahead: the handshake does, and the decision
		// lets it through.
		resp, _ := getTLS(t, httpsAddr, "pier.example.com", p.roots)
		if resp.StatusCode != 404 || !slices.Contains(p.orderedNames(), "pier.example.com") {
			t.Fatalf("GET https://pier.example.com: %d, ordered %q", resp.StatusCode, p.orderedNames())
		}
	})

	t.Run("a name not served gets no certificate", func(t *testing.T) {
		c := httpsClient(httpsAddr, p.roots)
		if _, err := c.Get("https://evil.example.com/"); err == nil {
			t.Fatal("a handshake for a name pier does not serve succeeded")
		}
		if _, err := c.Get("https://nope.hello.example.com/"); err == nil {
			t.Fatal("a handshake for a name under an app's host succeeded")
		}
		for _, n := range p.orderedNames() {
			if n != "hello.example.com" && n != "www.example.org" && n != "pier.example.com" {
				t.Errorf("Pebble was asked for %q", n)
			}
		}
	})

	t.Run("plain HTTP is redirected once a certificate exists", func(t *testing.T) {
		code, _, h := getHeader(t, httpAddr, "hello.example.com", "/a?b=c")
		if want := "https://hello.example.com:" + port(httpsAddr) + "/a?b=c"; code != http.StatusPermanentRedirect || h.Get("Location") != want {
			t.Fatalf("got %d Location %q, want 308 to %q", code, h.Get("Location"), want)
		}
		if code, _, _ := getHeader(t, httpAddr, "hello.example.com", "/.well-known/acme-challenge/x"); code == http.StatusPermanentRedirect {
			t.Fatal("an ACME challenge path was redirected")
		}
	})

	if n := counterValue(r.metrics.certs.WithLabelValues("acme", "obtained")); n < 1 {
		t.Errorf("pier_certificates_total{issuer=acme,result=obtained} = %v", n)
	}
	_ = reg
}

// With challenges really validated, pier answers each kind on its own
// listeners: HTTP-01 on the HTTP router, TLS-ALPN-01 on the HTTPS one.
func TestACMEChallenges(t *testing.T) {
	for _, tc := range []struct {
		name string
		tune func(*TLSConfig)
	}{
		{"http-01", func(c *TLSConfig) { c.DisableTLSALPN01 = true }},
		{"tls-alpn-01", func(c *TLSConfig) { c.DisableHTTP01 = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
			httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
			p := startValidatingPebble(t, httpLn.Addr().(*net.TCPAddr).Port, httpsLn.Addr().(*net.TCPAddr).Port)
			r, _ := tlsRouterOn(t, "example.com", p, tc.tune, httpLn, httpsLn)
			r.Set("hello", []string{namedBackend(t, "hello")})
			resp, body := getTLS(t, httpsLn.Addr().String(), "hello.example.com", p.roots)
			if resp.StatusCode != 200 || body != "hello" {
				t.Fatalf("GET https://hello.example.com: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// A certificate near its end is renewed in the background and the new one
// is served.
func TestACMERenewal(t *testing.T) {
	p := startPebble(t, 9*time.Second)
	r, _, httpsAddr, _ := tlsRouter(t, "example.com", p, func(c *TLSConfig) {
		c.RenewCheckInterval = 300 * time.Millisecond
	})
	r.Set("hello", []string{namedBackend(t, "hello")})
	resp, _ := getTLS(t, httpsAddr, "hello.example.com", p.roots)
	first := resp.TLS.PeerCertificates[0]
	if life := first.NotAfter.Sub(first.NotBefore); life > 10*time.Second {
		t.Fatalf("Pebble issued a certificate for %s, want a short-lived one", life)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := getTLS(t, httpsAddr, "hello.example.com", p.roots)
		if cert := resp.TLS.PeerCertificates[0]; cert.SerialNumber.Cmp(first.SerialNumber) != 0 {
			// Certificate times have one-second resolution: a renewal within
			// the same second has the same NotAfter.
			if body != "hello" || cert.NotAfter.Before(first.NotAfter) {
				t.Fatalf("after renewal: body %q, not after %s (first %s)", body, cert.NotAfter, first.NotAfter)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the certificate was not renewed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := counterValue(r.metrics.certs.WithLabelValues("acme", "obtained")); n < 2 {
		t.Errorf("pier_certificates_total{issuer=acme,result=obtained} = %v after a renewal", n)
	}
}

// Internal names get certificates from pier's own CA, which verify against
// the root CARoot returns, and keep answering plain HTTP.
func TestInternalCA(t *testing.T) {
	r, httpAddr, httpsAddr, _ := tlsRouter(t, "localhost", nil, nil)
	r.Set("hello", []string{namedBackend(t, "hello")})
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(r.CARoot()) {
		t.Fatalf("CARoot is not PEM: %q", r.CARoot())
	}
	resp, body := getTLS(t, httpsAddr, "hello.localhost", roots)
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("GET https://hello.localhost: %d %q", resp.StatusCode, body)
	}
	if code, body, _ := getHeader(t, httpAddr, "hello.localhost", "/"); code != 200 || body != "hello" {
		t.Fatalf("plain HTTP of an internal name: %d %q, want the app", code, body)
	}
	if n := counterValue(r.metrics.certs.WithLabelValues("internal", "obtained")); n < 1 {
		t.Errorf("pier_certificates_total{issuer=internal,result=obtained} = %v", n)
	}
}

// The internal CA signs internal names only, and its root constrains what
// it can sign to them.
func TestInternalCARefusesPublicNames(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ca, err := loadInternalCA(ctx, st.Certs())
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadInternalCA(ctx, st.Certs())
	if err != nil || !bytes.Equal(again.rootPEM, ca.rootPEM) {
		t.Fatalf("loading the CA again made a new one (%v)", err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		names []string
		ips   []net.IP
		ok    bool
	}{
		{names: []string{"hello.localhost"}, ok: true},
		{names: []string{"nas.home.arpa", "printer.local", "db.internal"}, ok: true},
		{ips: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, ok: true},
		{names: []string{"hello.localhost", "example.com"}},
		{names: []string{"localhost.example.com"}},
	} {
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: tc.names, IPAddresses: tc.ips}, key)
		csr, _ := x509.ParseCertificateRequest(der)
		_, err := ca.Issue(ctx, csr)
		if (err == nil) != tc.ok {
			t.Errorf("Issue(%v %v): err %v, want ok=%v", tc.names, tc.ips, err, tc.ok)
		}
	}
	if !ca.root.PermittedDNSDomainsCritical || !slices.Equal(ca.root.PermittedDNSDomains, internalSuffixes) {
		t.Errorf("root name constraints: %q", ca.root.PermittedDNSDomains)
	}
}

func getHeader(t *testing.T, addr, host, path string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Host = host
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

package router

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"pier/app"
	"pier/router/acmetest"
	"pier/store"
)

func startPebble(t *testing.T, validity time.Duration) *acmetest.Pebble {
	return acmetest.Start(t, acmetest.Options{Validity: validity})
}

// startValidatingPebble starts Pebble validating challenges for real, on
// loopback: every name resolves to 127.0.0.1 and HTTP-01 and TLS-ALPN-01
// are checked on httpPort and tlsPort.
func startValidatingPebble(t *testing.T, httpPort, tlsPort int) *acmetest.Pebble {
	return acmetest.Start(t, acmetest.Options{Validate: true, HTTPPort: httpPort, TLSPort: tlsPort, Resolve: "127.0.0.1"})
}

// tlsRouter returns a router for apps under domain with HTTPS through
// Pebble (or, for internal names, pier's CA), its certificates kept in a
// real store, serving HTTP and HTTPS on loopback until the test ends.
func tlsRouter(t *testing.T, domain string, p *acmetest.Pebble, tune func(*TLSConfig)) (r *Router, httpAddr, httpsAddr string, reg *prometheus.Registry) {
	t.Helper()
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	r, reg = tlsRouterOn(t, domain, p, tune, httpLn, httpsLn)
	return r, httpLn.Addr().String(), httpsLn.Addr().String(), reg
}

func tlsRouterOn(t *testing.T, domain string, p *acmetest.Pebble, tune func(*TLSConfig), httpLn, httpsLn net.Listener) (*Router, *prometheus.Registry) {
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
		cfg.ACMEDirectory, cfg.ACMERoots = p.Directory, p.TLSRoots
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

	resp, body := getTLS(t, httpsAddr, "hello.example.com", p.Roots)
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
		resp, body := getTLS(t, httpsAddr, "www.example.org", p.Roots)
		if resp.StatusCode != 200 || body != "hello" || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "www.example.org") {
			t.Fatalf("GET https://www.example.org: %d %q, names %q", resp.StatusCode, body, resp.TLS.PeerCertificates[0].DNSNames)
		}
		if info := r.Certificate(context.Background(), "www.example.org"); info.Status != "valid" {
			t.Errorf("Certificate: %+v", info)
		}
	})

	t.Run("pier's own host is issued at start", func(t *testing.T) {
		resp, _ := getTLS(t, httpsAddr, "pier.example.com", p.Roots)
		if resp.StatusCode != 404 || !slices.Contains(p.OrderedNames(), "pier.example.com") {
			t.Fatalf("GET https://pier.example.com: %d, ordered %q", resp.StatusCode, p.OrderedNames())
		}
	})

	t.Run("a name not served gets no certificate", func(t *testing.T) {
		c := httpsClient(httpsAddr, p.Roots)
		if _, err := c.Get("https://evil.example.com/"); err == nil {
			t.Fatal("a handshake for a name pier does not serve succeeded")
		}
		if _, err := c.Get("https://nope.hello.example.com/"); err == nil {
			t.Fatal("a handshake for a name under an app's host succeeded")
		}
		for _, n := range p.OrderedNames() {
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
			resp, body := getTLS(t, httpsLn.Addr().String(), "hello.example.com", p.Roots)
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
	resp, _ := getTLS(t, httpsAddr, "hello.example.com", p.Roots)
	first := resp.TLS.PeerCertificates[0]
	if life := first.NotAfter.Sub(first.NotBefore); life > 10*time.Second {
		t.Fatalf("Pebble issued a certificate for %s, want a short-lived one", life)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := getTLS(t, httpsAddr, "hello.example.com", p.Roots)
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
	r, httpAddr, httpsAddr, reg := tlsRouter(t, "localhost", nil, nil)
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
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var expiry float64
	for _, f := range families {
		if f.GetName() == "pier_certificate_expiry_timestamp_seconds" {
			for _, m := range f.Metric {
				if m.Label[0].GetValue() == "hello.localhost" {
					expiry = m.Gauge.GetValue()
				}
			}
		}
	}
	if at := time.Unix(int64(expiry), 0); at.Before(time.Now().Add(24 * time.Hour)) {
		t.Errorf("pier_certificate_expiry_timestamp_seconds{host=hello.localhost} = %v", expiry)
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
	ca, err := newInternalCA(ctx, st.Certs())
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ca.keys(ctx)
	again, err := loadInternalCA(ctx, st.Certs())
	if err != nil || !bytes.Equal(again.rootPEM, k.rootPEM) {
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
	if !k.root.PermittedDNSDomainsCritical || !slices.Equal(k.root.PermittedDNSDomains, internalSuffixes) {
		t.Errorf("root name constraints: %q", k.root.PermittedDNSDomains)
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

// replicas is a replicated log in miniature: each change is applied to
// every store, in one order, as a cluster's machines apply its log.
type replicas struct {
	mu     sync.Mutex
	stores []*store.Store
}

func (r *replicas) Apply(ctx context.Context, c app.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.stores {
		if err := s.Apply(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func openStores(t *testing.T, n int) *replicas {
	r := &replicas{}
	for range n {
		st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		r.stores = append(r.stores, st)
	}
	return r
}

// Two routers of a cluster share their certificate storage through the
// log: a certificate one of them obtains is obtained once, the other
// serves it, and the ACME server's challenge is answered by the machine it
// reaches, not the one that asked.
func TestACMECertificatesSharedByACluster(t *testing.T) {
	for _, tc := range []struct {
		name string
		tune func(*TLSConfig)
	}{
		{"http-01", func(c *TLSConfig) { c.DisableTLSALPN01 = true }},
		{"tls-alpn-01", func(c *TLSConfig) { c.DisableHTTP01 = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := openStores(t, 2)
			var lns [2][2]net.Listener // per router: HTTP, HTTPS
			for i := range lns {
				for j := range lns[i] {
					lns[i][j], _ = net.Listen("tcp", "127.0.0.1:0")
				}
			}
			// Pebble reaches only b.
			p := startValidatingPebble(t, lns[1][0].Addr().(*net.TCPAddr).Port, lns[1][1].Addr().(*net.TCPAddr).Port)
			var routers [2]*Router
			for i := range routers {
				routers[i], _ = tlsRouterOn(t, "example.com", p, func(c *TLSConfig) {
					tc.tune(c)
					c.Storage = rs.stores[i].CertsThrough(rs)
				}, lns[i][0], lns[i][1])
			}
			a, b := routers[0], routers[1]
			a.Set("hello", []string{namedBackend(t, "hello")})
			resp, body := getTLS(t, lns[0][1].Addr().String(), "hello.example.com", p.Roots)
			if resp.StatusCode != 200 || body != "hello" {
				t.Fatalf("GET https://hello.example.com through a: %d %q", resp.StatusCode, body)
			}
			serial := resp.TLS.PeerCertificates[0].SerialNumber

			// b has had it since a stored it: routed there too, it serves
			// the same certificate and asks for none of its own.
			b.Set("hello", []string{namedBackend(t, "hello")})
			resp, body = getTLS(t, lns[1][1].Addr().String(), "hello.example.com", p.Roots)
			if resp.StatusCode != 200 || body != "hello" {
				t.Fatalf("GET https://hello.example.com through b: %d %q", resp.StatusCode, body)
			}
			if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(serial) != 0 {
				t.Errorf("b serves certificate %x, a %x; want one certificate", got, serial)
			}
			if n := counterValue(b.metrics.certs.WithLabelValues("acme", "obtained")); n != 0 {
				t.Errorf("b obtained %v certificates; want 0", n)
			}
			var orders int
			for _, n := range p.OrderedNames() {
				if n == "hello.example.com" {
					orders++
				}
			}
			if orders != 1 {
				t.Errorf("%d orders for hello.example.com; want 1", orders)
			}
		})
	}
}

// A machine whose storage takes another root (it joined a cluster, whose
// state replaced its own) signs with that root from then on.
func TestInternalCAFollowsStorage(t *testing.T) {
	ctx := context.Background()
	rs := openStores(t, 2)
	mine, err := newInternalCA(ctx, rs.stores[0].Certs())
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := newInternalCA(ctx, rs.stores[1].Certs())
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := mine.keys(ctx)
	k2, _ := theirs.keys(ctx)
	if bytes.Equal(k1.rootPEM, k2.rootPEM) {
		t.Fatal("two stores made one root")
	}
	keyPEM, _ := rs.stores[1].Certs().Load(ctx, caKeyKey)
	rs.stores[0].Certs().Store(ctx, caKeyKey, keyPEM)
	rs.stores[0].Certs().Store(ctx, caCertKey, k2.rootPEM)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"pier.localhost"}}, key)
	csr, _ := x509.ParseCertificateRequest(der)
	issued, err := mine.Issue(ctx, csr)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(issued.Certificate)
	leaf, _ := x509.ParseCertificate(block.Bytes)
	if err := leaf.CheckSignatureFrom(k2.root); err != nil {
		t.Errorf("issued with the old root: %v", err)
	}
}

// gate refuses changes until opened, as a machine of a cluster does before
// its part runs.
type gate struct {
	st   *store.Store
	open atomic.Bool
}

func (g *gate) Apply(ctx context.Context, c app.Change) error {
	if !g.open.Load() {
		return errors.New("not connected to the cluster yet")
	}
	return g.st.Apply(ctx, c)
}

// HTTPS starts on a machine that cannot make changes yet; pier's CA is
// made once it can.
func TestInternalCAMadeWhenChangesCanBe(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := &gate{st: st}
	r := New(Config{Domain: "localhost", Log: testLog(t)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.EnableTLS(ctx, TLSConfig{Storage: st.CertsThrough(g)}); err != nil {
		t.Fatalf("EnableTLS before changes can be made: %v", err)
	}
	if root := r.CARoot(); root != nil {
		t.Fatal("a CA root without a change made")
	}
	g.open.Store(true)
	if root := r.CARoot(); root == nil {
		t.Fatal("no CA root once changes can be made")
	}
}

// A certificate the CA refuses is reported with why and when it is
// asked again, and a handshake for it fails at once rather than waiting
// for the CA to refuse again.
func TestRefusedCertificateFailsFast(t *testing.T) {
	// Pebble checks challenges on ports where nothing answers.
	p := startValidatingPebble(t, freeLoopbackPort(t), freeLoopbackPort(t))
	r, _, httpsAddr, _ := tlsRouter(t, "example.com", p, nil)
	r.Set("hello", []string{namedBackend(t, "hello")})
	var st app.CertStatus
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st = r.Certificate(context.Background(), "hello.example.com"); st.Status == "failing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failure reported: %+v", st)
		}
	}
	if st.LastError == "" || len(st.LastError) > maxCertError+3 || !st.NextTry.After(time.Now()) {
		t.Errorf("failure: %+v", st)
	}
	start := time.Now()
	_, err := httpsClient(httpsAddr, x509.NewCertPool()).Get("https://hello.example.com/")
	if err == nil {
		t.Fatal("a handshake for a refused certificate succeeded")
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("the handshake took %s to fail", took)
	}
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The names whose failures the router remembers are bounded, and so is
// each message.
func TestCertFailuresBounded(t *testing.T) {
	c := &certs{}
	for i := range maxCertFailures + 100 {
		c.certFailed(fmt.Sprintf("h%d.example.com", i), strings.Repeat("x", 10*maxCertError))
	}
	if n := len(*c.failures.Load()); n > maxCertFailures {
		t.Errorf("%d failures kept, want at most %d", n, maxCertFailures)
	}
	for _, f := range *c.failures.Load() {
		if len(f.err) > maxCertError+3 {
			t.Fatalf("a message of %d bytes kept", len(f.err))
		}
	}
}

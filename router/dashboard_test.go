package router

import (
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

func TestDashboardHost(t *testing.T) {
	r := New(Config{Domain: "example.com", Log: testLog(t)})
	r.Set("hello", nil)
	r.SetDashboard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "dashboard") }))
	tests := []struct {
		host string
		code int
		body string
	}{
		{"pier.example.com", 200, "dashboard"},
		{"PIER.example.com.:8080", 200, "dashboard"},
		{"pier.other.com", 404, ""},
		{"x.pier.example.com", 404, ""},
		{"hello.example.com", 502, ""},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tc.code || tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tc.code, tc.body)
			}
		})
	}
	if got, want := r.DashboardURL(), "http://pier.example.com"; got != want {
		t.Errorf("DashboardURL: got %q, want %q", got, want)
	}
}

func TestDashboardOverHTTPS(t *testing.T) {
	p := startPebble(t, 0)
	r, httpAddr, httpsAddr, _ := tlsRouter(t, "example.com", p, nil)
	r.SetDashboard(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, "dashboard over "+req.Proto)
	}))
	resp, body := getTLS(t, httpsAddr, "pier.example.com", p.Roots)
	if resp.StatusCode != 200 || body != "dashboard over HTTP/2.0" {
		t.Fatalf("GET https://pier.example.com: %d %q", resp.StatusCode, body)
	}
	// Once the certificate is there, plain HTTP is redirected, as for apps.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, h := getHeader(t, httpAddr, "pier.example.com", "/login")
		if want := "https://pier.example.com:" + port(httpsAddr) + "/login"; code == http.StatusPermanentRedirect && h.Get("Location") == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plain HTTP to the dashboard: %d %q, want a redirect to HTTPS", code, h.Get("Location"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With a public domain, pier.<domain> asks for its certificate when the
// router starts, with no handshake to trigger it, and the dashboard never
// goes out over plain HTTP: before and after the certificate, plain HTTP
// is redirected (without HSTS, which browsers ignore there), and HTTPS
// answers with HSTS. Pebble validates HTTP-01 for real on the listener
// that redirects.
func TestDashboardCertificateAtStart(t *testing.T) {
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpAddr, httpsAddr := httpLn.Addr().String(), httpsLn.Addr().String()
	p := startValidatingPebble(t, portNumber(httpAddr), portNumber(httpsAddr))
	r, _ := tlsRouterOn(t, "example.com", p, func(c *TLSConfig) { c.DisableTLSALPN01 = true }, httpLn, httpsLn)
	r.SetDashboard(dashboardHandler())
	r.Set("hello", []string{namedBackend(t, "hello")})

	key := certmagic.StorageKeys.SiteCert(r.tls.acme.IssuerKey(), "pier.example.com")
	for deadline := time.Now().Add(30 * time.Second); !r.tls.public.Storage.Exists(context.Background(), key); time.Sleep(50 * time.Millisecond) {
		checkRedirected(t, httpAddr, httpsAddr)
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for pier.example.com in storage without a handshake; Pebble was asked for %q", p.OrderedNames())
		}
	}
	checkRedirected(t, httpAddr, httpsAddr)

	resp, body := getTLS(t, httpsAddr, "pier.example.com", p.Roots)
	if resp.StatusCode != 200 || body != "dashboard" {
		t.Fatalf("GET https://pier.example.com: %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("HTTPS Strict-Transport-Security: got %q, want %q", got, "max-age=31536000")
	}
	resp, _ = getTLS(t, httpsAddr, "hello.example.com", p.Roots)
	if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("an app's HTTPS response has Strict-Transport-Security %q: its headers are its own", got)
	}
}

// Until pier.<domain> has a certificate (here: the CA refuses it), plain
// HTTP to it is still redirected, and a challenge path certmagic did not
// answer gets a 404, never the dashboard.
func TestDashboardRedirectedWithoutCertificate(t *testing.T) {
	// Pebble checks challenges on ports where nothing answers.
	p := startValidatingPebble(t, freeLoopbackPort(t), freeLoopbackPort(t))
	r, httpAddr, httpsAddr, _ := tlsRouter(t, "example.com", p, nil)
	r.SetDashboard(dashboardHandler())
	checkRedirected(t, httpAddr, httpsAddr)
	code, body, h := getHeader(t, httpAddr, "pier.example.com", "/.well-known/acme-challenge/x")
	if code != http.StatusNotFound || strings.Contains(body, "dashboard") || h.Get("Strict-Transport-Security") != "" {
		t.Errorf("unanswered challenge path: %d %q, HSTS %q; want a 404 page", code, body, h.Get("Strict-Transport-Security"))
	}
}

// With the default internal domain the dashboard keeps answering plain
// HTTP, and neither scheme sends HSTS: pier's CA is trusted only where it
// was installed.
func TestDashboardInternalDomain(t *testing.T) {
	r, httpAddr, httpsAddr, _ := tlsRouter(t, "localhost", nil, nil)
	r.SetDashboard(dashboardHandler())
	code, body, h := getHeader(t, httpAddr, "pier.localhost", "/login")
	if code != 200 || body != "dashboard" || h.Get("Strict-Transport-Security") != "" {
		t.Errorf("GET http://pier.localhost: %d %q, HSTS %q; want the dashboard without HSTS", code, body, h.Get("Strict-Transport-Security"))
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(r.CARoot())
	resp, body := getTLS(t, httpsAddr, "pier.localhost", roots)
	if resp.StatusCode != 200 || body != "dashboard" || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("GET https://pier.localhost: %d %q, HSTS %q; want the dashboard without HSTS", resp.StatusCode, body, resp.Header.Get("Strict-Transport-Security"))
	}
}

func dashboardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "dashboard") })
}

// checkRedirected checks that plain HTTP to pier.example.com through
// httpAddr is a permanent redirect to the HTTPS listener, without HSTS.
func checkRedirected(t *testing.T, httpAddr, httpsAddr string) {
	t.Helper()
	code, body, h := getHeader(t, httpAddr, "pier.example.com", "/login?next=%2F")
	want := "https://pier.example.com:" + port(httpsAddr) + "/login?next=%2F"
	if code != http.StatusPermanentRedirect && code != http.StatusMovedPermanently || h.Get("Location") != want {
		t.Fatalf("GET http://pier.example.com/login: %d Location %q body %q; want a redirect to %q", code, h.Get("Location"), body, want)
	}
	if got := h.Get("Strict-Transport-Security"); got != "" {
		t.Fatalf("plain HTTP has Strict-Transport-Security %q", got)
	}
}

func portNumber(addr string) int {
	n, _ := strconv.Atoi(port(addr))
	return n
}

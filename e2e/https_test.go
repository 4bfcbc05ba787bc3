package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// staticApp is a web app with no dependencies to install: quick to build.
func staticApp(greeting string) map[string]string {
	return map[string]string{
		"Procfile": "web: python3 app.py\n",
		"app.py": `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"` + greeting + `"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	}
}

// httpsTo returns a client that connects to addr whatever the URL's host
// (so https://hello.localhost/ sends that name as SNI), trusting roots.
func httpsTo(addr string, roots *x509.CertPool) *http.Client {
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

// https://hello.localhost verifies against the root `pier ca:export` prints.
func TestHTTPSWithInternalCA(t *testing.T) {
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := startDaemon(t, "--https", httpsAddr)
	if out, ok := d.push(gitRepo(t, staticApp("hello over tls")), "hello", d.key); !ok {
		t.Fatalf("push: %s", out)
	}

	root, code := d.pier(nil, "ca:export")
	roots := x509.NewCertPool()
	if code != 0 || !roots.AppendCertsFromPEM([]byte(root)) {
		t.Fatalf("ca:export exit %d: %q", code, root)
	}
	c := httpsTo(httpsAddr, roots)
	var (
		resp *http.Response
		err  error
	)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err = c.Get("https://hello.localhost/"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET https://hello.localhost/: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello over tls" || resp.ProtoMajor != 2 {
		t.Fatalf("got %d %q over %s", resp.StatusCode, body, resp.Proto)
	}
	if _, err := c.Get("https://nothing.localhost/"); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Errorf("a host pier does not serve got a certificate (err %v)", err)
	}
	// pier's CA is not trusted everywhere: plain HTTP keeps answering.
	if got := d.mustGet("hello"); got != "hello over tls" {
		t.Fatalf("plain HTTP: got %q", got)
	}

	t.Run("the CA and certificates outlive a restart", func(t *testing.T) {
		d.stop()
		d.start()
		if again, _ := d.pier(nil, "ca:export"); again != root {
			t.Fatal("ca:export after a restart prints another root")
		}
		if _, err := getRetry(c, "https://hello.localhost/"); err != nil {
			t.Fatalf("after a restart: %v", err)
		}
	})

	t.Run("custom domains", func(t *testing.T) {
		if out, code := d.pier(nil, "domains:add", "hello", "WWW.Hello.Internal"); code != 0 {
			t.Fatalf("domains:add exit %d: %s", code, out)
		}
		if code, body, err := d.getHost("www.hello.internal", "/"); err != nil || code != 200 || body != "hello over tls" {
			t.Fatalf("GET http://www.hello.internal/: %d %q %v", code, body, err)
		}
		resp, err := getRetry(c, "https://www.hello.internal/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET https://www.hello.internal/: %v %v", resp, err)
		}
		out, code := d.pier(nil, "domains:report", "hello")
		if code != 0 || !regexp.MustCompile(`www\.hello\.internal\s+valid\s+20\d\d-`).MatchString(out) ||
			!regexp.MustCompile(`hello\.localhost\s+valid`).MatchString(out) {
			t.Errorf("domains:report exit %d:\n%s", code, out)
		}

		if out, code := d.pier(nil, "apps:create", "other"); code != 0 {
			t.Fatal(out)
		}
		for _, tc := range []struct{ domain, want string }{
			{"www.hello.internal", "belongs to another app"},
			{"hello.localhost", "under pier's domain"},
			{"pier.localhost", "under pier's domain"},
			{"*.example.com", "wildcards"},
			{"127.0.0.1", "IP address"},
		} {
			if out, code := d.pier(nil, "domains:add", "other", tc.domain); code == 0 || !strings.Contains(out, tc.want) {
				t.Errorf("domains:add other %s: exit %d, %q, want it refused with %q", tc.domain, code, out, tc.want)
			}
		}

		t.Run("an app's own certificate", func(t *testing.T) {
			// It also names another app's host: that one never gets it.
			cert, key := selfSigned(t, "www.hello.internal", "other.localhost")
			if out, code := d.pier(bytes.NewReader(append(cert, key...)), "certs:add", "hello"); code != 0 || !strings.Contains(out, "for www.hello.internal") {
				t.Fatalf("certs:add exit %d: %s", code, out)
			}
			own := x509.NewCertPool()
			own.AppendCertsFromPEM(cert)
			if resp, err := getRetry(httpsTo(httpsAddr, own), "https://www.hello.internal/"); err != nil || resp.StatusCode != 200 {
				t.Errorf("https://www.hello.internal/ with the app's own certificate: %v %v", resp, err)
			}
			if _, err := getRetry(c, "https://hello.localhost/"); err != nil {
				t.Errorf("hello.localhost, which it does not cover, lost pier's certificate: %v", err)
			}
			if out := d.mustPier("certs:report", "hello"); !strings.Contains(out, "brought with certs:add") {
				t.Errorf("certs:report:\n%s", out)
			}
			wrong, wkey := selfSigned(t, "elsewhere.example")
			if out, code := d.pier(bytes.NewReader(append(wrong, wkey...)), "certs:add", "hello"); code == 0 || !strings.Contains(out, "the certificate is for elsewhere.example") {
				t.Errorf("certs:add of a certificate for none of its hosts: exit %d, %q", code, out)
			}
			d.mustPier("certs:remove", "hello")
			if resp, err := getRetry(c, "https://www.hello.internal/"); err != nil || resp.StatusCode != 200 {
				t.Errorf("after certs:remove, pier's own certificate: %v %v", resp, err)
			}
		})

		if out, code := d.pier(nil, "domains:remove", "hello", "www.hello.internal"); code != 0 {
			t.Fatalf("domains:remove exit %d: %s", code, out)
		}
		if code, _, _ := d.getHost("www.hello.internal", "/"); code != 404 {
			t.Errorf("a removed domain answers %d, want 404", code)
		}
	})
}

// selfSigned returns a PEM certificate for names, signed by itself, and
// its PEM key.
func selfSigned(t *testing.T, names ...string) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "pier test " + names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// getRetry GETs url until it answers 200 or 15 s pass.
func getRetry(c *http.Client, url string) (*http.Response, error) {
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == 200 || time.Now().After(deadline) {
			return resp, err
		}
	}
}

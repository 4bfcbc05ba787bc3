//go:build bench

package e2e

// The processes of the router benchmark: the backend, pier's router, Caddy
// and nginx, each pinned to a CPU, in a process group of its own, and
// killed when the test ends (or, through Pdeathsig, when it dies).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pier/runtime/runtimetest"
)

// The CPUs: the proxies share one, the client (wrk) and the backend the
// other.
const (
	proxyCPU  = 1
	clientCPU = 0
	bodySize  = 4 << 10
	bodyPath  = "/4k"
)

// endpoint is where wrk sends a target's requests: a URL whose host is
// only the Host header and TLS server name (wrk connects to 127.0.0.1
// whatever it says, see wrkScript), and headers to add.
type endpoint struct {
	url     string
	headers []string
}

// startProc starts args pinned to cpu, with its output in dir/name.log, and
// stops its whole process group when the test ends.
func startProc(t *testing.T, dir, name string, cpu int, env []string, args ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited, err := runtimetest.Spawn(cmd)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	running, done := t.Context(), make(chan struct{})
	go func() {
		err := <-exited
		if running.Err() == nil {
			// Its runs fail; this says why.
			fmt.Fprintf(os.Stderr, "%s exited early: %v (see %s)\n", name, err, out.Name())
		}
		close(done)
	}()
	t.Cleanup(func() {
		defer out.Close()
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		syscall.Kill(-pgid, syscall.SIGKILL) // anything the leader left behind
	})
}

// startBackend starts the backend all targets proxy to: nginx answering
// bodyPath with a 4 KiB file, on HTTP and HTTPS (for direct TLS runs). It
// returns the HTTP address and the direct endpoints.
func startBackend(t *testing.T, dir string, cert certFiles) (string, endpoint, endpoint) {
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	if err := os.WriteFile(filepath.Join(www, strings.TrimPrefix(bodyPath, "/")), []byte(strings.Repeat("pier", bodySize/4)), 0o644); err != nil {
		t.Fatal(err)
	}
	hp, sp := freePort(t), freePort(t)
	conf := nginxMain(dir, "backend") + fmt.Sprintf(`
http {
	access_log off;
	keepalive_requests 1000000;
	open_file_cache max=16;
	default_type application/octet-stream;
	%s
	server {
		listen 127.0.0.1:%d;
		listen 127.0.0.1:%d ssl;
		ssl_certificate %s;
		ssl_certificate_key %s;
		root %s;
	}
}
`, nginxTemp(dir, "backend"), hp, sp, cert.cert, cert.key, www)
	startNginx(t, dir, "backend", clientCPU, conf)
	addr := fmt.Sprintf("127.0.0.1:%d", hp)
	return addr, endpoint{url: fmt.Sprintf("http://%s.localhost:%d%s", benchApp, hp, bodyPath)},
		endpoint{url: fmt.Sprintf("https://%s.localhost:%d%s", benchApp, sp, bodyPath)}
}

// startNginxProxy starts nginx as a reverse proxy to backend with a pool of
// kept-alive upstream connections, writing its default access log.
func startNginxProxy(t *testing.T, dir, backend string, cert certFiles) (endpoint, endpoint) {
	hp, sp := freePort(t), freePort(t)
	conf := nginxMain(dir, "nginx") + fmt.Sprintf(`
http {
	access_log %s;
	keepalive_requests 1000000;
	%s
	upstream app {
		server %s;
		keepalive 64;
		keepalive_requests 1000000;
	}
	server {
		listen 127.0.0.1:%d;
		listen 127.0.0.1:%d ssl;
		server_name %s.localhost;
		ssl_certificate %s;
		ssl_certificate_key %s;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Host $host;
			proxy_set_header X-Forwarded-Proto $scheme;
		}
	}
}
`, filepath.Join(dir, "nginx-access.log"), nginxTemp(dir, "nginx"), backend, hp, sp, benchApp, cert.cert, cert.key)
	startNginx(t, dir, "nginx", proxyCPU, conf)
	return endpoint{url: fmt.Sprintf("http://%s.localhost:%d%s", benchApp, hp, bodyPath)},
		endpoint{url: fmt.Sprintf("https://%s.localhost:%d%s", benchApp, sp, bodyPath)}
}

// nginxMain is the top of an nginx configuration: one process (no master,
// so that it dies with its process group), in the foreground.
func nginxMain(dir, name string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %s;
error_log %s warn;
events { worker_connections 4096; }
`, filepath.Join(dir, name+".pid"), filepath.Join(dir, name+"-error.log"))
}

// nginxTemp keeps nginx's temporary files in dir.
func nginxTemp(dir, name string) string {
	tmp := filepath.Join(dir, name+"-tmp")
	os.MkdirAll(tmp, 0o755)
	var b strings.Builder
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "%s_temp_path %s;\n\t", k, filepath.Join(tmp, k))
	}
	return b.String()
}

func startNginx(t *testing.T, dir, name string, cpu int, conf string) {
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startProc(t, dir, name, cpu, nil, "nginx", "-p", dir, "-c", path, "-e", filepath.Join(dir, name+"-error.log"))
}

// startCaddy starts Caddy with reverse_proxy to backend: its defaults, and
// a certificate from the benchmark's CA for HTTPS.
func startCaddy(t *testing.T, dir, backend string, cert certFiles) (endpoint, endpoint) {
	hp, sp := freePort(t), freePort(t)
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
	http_port %d
	https_port %d
	storage file_system %s
}
http://%s.localhost:%d {
	reverse_proxy %s
}
https://%s.localhost:%d {
	tls %s %s
	reverse_proxy %s
}
`, hp, sp, filepath.Join(dir, "caddy-data"), benchApp, hp, backend, benchApp, sp, cert.cert, cert.key, backend)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "caddy-home")
	startProc(t, dir, "caddy", proxyCPU, []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home},
		"caddy", "run", "--config", path, "--adapter", "caddyfile")
	return endpoint{url: fmt.Sprintf("http://%s.localhost:%d%s", benchApp, hp, bodyPath)},
		endpoint{url: fmt.Sprintf("https://%s.localhost:%d%s", benchApp, sp, bodyPath)}
}

// startPier starts pier's router (TestRouterBenchProcess) from the test
// binary and waits until it serves. It returns its addresses.
func startPier(t *testing.T, dir, backend string) routerAddrs {
	ready := filepath.Join(dir, "pier-ready.json")
	startProc(t, dir, "pier", proxyCPU, []string{helperEnv + "=" + routerRole, envBackend + "=" + backend, envReady + "=" + ready},
		os.Args[0], "-test.run", "^TestRouterBenchProcess$", "-test.timeout", "0")
	deadline := time.Now().Add(routerSetupBy + 10*time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			var a routerAddrs
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatalf("pier router: %v", err)
			}
			return a
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pier.log"))
			t.Fatalf("pier's router did not come up:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check fetches e once (through 127.0.0.1, like wrk) until it answers 200
// with the 4 KiB body, for up to 10 s.
func check(t *testing.T, name string, e endpoint) {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", p))
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	defer tr.CloseIdleConnections()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", e.url, nil)
		for _, h := range e.headers {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && len(body) == bodySize {
			return
		}
		last = fmt.Sprintf("%s, %d bytes", resp.Status, len(body))
	}
	t.Fatalf("%s at %s: %s", name, e.url, last)
}

// certFiles is a certificate and its key, in PEM files.
type certFiles struct{ cert, key string }

// benchCert issues a certificate for the benchmarked apps' names from a CA
// made for the occasion, the same kind (ECDSA P-256) pier's CA issues.
func benchCert(t *testing.T, dir string) certFiles {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "router benchmark CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: benchApp + ".localhost"},
		DNSNames:  []string{benchApp + ".localhost", benchAuthApp + ".localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	c := certFiles{cert: filepath.Join(dir, "bench.crt"), key: filepath.Join(dir, "bench.key")}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	if err := os.WriteFile(c.cert, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

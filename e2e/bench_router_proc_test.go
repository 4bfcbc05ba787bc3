//go:build bench

package e2e

// The router process of the router benchmark: pier's router as pier serve
// builds it, in a process of its own so that it can be pinned to one CPU.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // the router process's profiles, on its pprof listener
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"pier/app"
	"pier/router"
	"pier/store"
)

// The router process's setup, shared with TestBenchRouter.
const (
	benchApps     = 200
	benchApp      = "app100" // behind an IP allowlist that lets loopback in
	benchAuthApp  = "app101" // behind basic auth
	benchUser     = "bench"
	benchPassword = "correct horse battery staple"

	routerRole    = "router-bench"
	envBackend    = "PIER_BENCH_BACKEND" // the backend's host:port
	envReady      = "PIER_BENCH_READY"   // where the router writes its addresses once it serves
	routerSetupBy = 2 * time.Minute
)

// routerAddrs is what the router process writes to envReady.
type routerAddrs struct {
	HTTP, HTTPS, Pprof string
}

// TestRouterBenchProcess runs pier's router for TestBenchRouter, which
// starts it from the test binary with helperEnv set: 200 apps whose
// backend is envBackend, every one with a certificate from pier's CA, an
// IP allowlist on benchApp and basic auth on benchAuthApp, Prometheus
// metrics registered, and the access log on stderr at Info as pier serve
// writes it. It serves until SIGTERM.
func TestRouterBenchProcess(t *testing.T) {
	if os.Getenv(helperEnv) != routerRole {
		t.Skip("the router process of TestBenchRouter")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	httpLn, httpsLn, pprofLn := listen(t), listen(t), listen(t)
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rtr := router.New(router.Config{Log: log, AccessLog: os.Stderr, Metrics: metrics, PublicPort: port(httpLn.Addr().String())})
	err = rtr.EnableTLS(ctx, router.TLSConfig{
		Storage:  st.Certs(),
		HTTPPort: port(httpLn.Addr().String()), HTTPSPort: port(httpsLn.Addr().String()),
		DisableHTTP01: true, DisableTLSALPN01: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	backend := os.Getenv(envBackend)
	for i := range benchApps {
		rtr.Set(fmt.Sprintf("app%03d", i), []string{backend})
	}
	rtr.SetAccess(benchApp, app.AccessRules{Allow: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8"),
	}})
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	rtr.SetAccess(benchAuthApp, app.AccessRules{Auth: true, Users: map[string]string{benchUser: string(hash)}})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rtr.Serve(gctx, httpLn) })
	g.Go(func() error { return rtr.ServeTLS(gctx, httpsLn) })
	pprofSrv := &http.Server{Handler: http.DefaultServeMux}
	g.Go(func() error {
		<-gctx.Done()
		return pprofSrv.Close()
	})
	g.Go(func() error {
		if err := pprofSrv.Serve(pprofLn); err != http.ErrServerClosed {
			return err
		}
		return nil
	})
	obtainCertificates(t, httpsLn.Addr().String())
	addrs, _ := json.Marshal(routerAddrs{HTTP: httpLn.Addr().String(), HTTPS: httpsLn.Addr().String(), Pprof: pprofLn.Addr().String()})
	if err := os.WriteFile(os.Getenv(envReady), addrs, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// obtainCertificates makes every app get its certificate, with a TLS
// handshake for each (pier's CA issues on demand), so that issuing them
// does not overlap the measurements.
func obtainCertificates(t *testing.T, httpsAddr string) {
	d := &net.Dialer{Timeout: routerSetupBy}
	for i := range benchApps {
		host := fmt.Sprintf("app%03d.localhost", i)
		conn, err := tls.DialWithDialer(d, "tcp", httpsAddr, &tls.Config{ServerName: host, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS handshake for %s: %v", host, err)
		}
		conn.Close()
	}
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// port is the port of a listen address, 0 if it has none (as pier serve
// reads it from its --http and --https addresses).
func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

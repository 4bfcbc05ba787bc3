//go:build bench

package e2e

// The router benchmark behind scripts/bench.sh (scripts/bench.sh router runs
// it alone): requests/s and p99 latency through pier's router, Caddy and
// nginx, and straight to the backend.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pier/runtime/runtimetest"
)

// wrkScript makes wrk connect to 127.0.0.1 whatever host the URL names
// (that host is only the Host header and the TLS server name: *.localhost
// names need no resolver), and print its summary in one parseable line.
const wrkScript = `
function wrk.resolve(host, service)
   wrk.addrs = wrk.lookup("127.0.0.1", service)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("result requests=%d duration=%d p99=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end
`

// scenario is one wrk setting every target is measured with.
type scenario struct {
	name  string
	tls   bool
	conns int
	long  bool // the full duration; light-load runs take half
}

// target is one way to reach the backend.
type target struct {
	name        string
	http, https endpoint
}

// result is one wrk run.
type result struct {
	rps float64
	p99 time.Duration
}

// TestBenchRouter measures requests/s and p99 latency of pier's router
// (200 apps, access rules, metrics and the access log on), Caddy's
// reverse_proxy and nginx's proxy_pass with upstream keepalive, against the
// same backend on the same machine: the proxies pinned to one CPU, wrk and
// the backend to the other, with 64 connections and with one, over HTTP
// and HTTPS, in alternating rounds whose medians it prints.
//
// PIER_BENCH_ROUTER_DURATION sets the length of a 64-connection run
// (default 10s); PIER_BENCH_PROFILE names a directory to save CPU profiles
// of the router during its first 64-connection runs in.
func TestBenchRouter(t *testing.T) {
	runtimetest.Require(t, "taskset", "wrk", "nginx", "caddy")
	const rounds = 3
	dur := 10 * time.Second
	if v := os.Getenv("PIER_BENCH_ROUTER_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PIER_BENCH_ROUTER_DURATION: %v", err)
		}
		dur = d
	}
	profiles := os.Getenv("PIER_BENCH_PROFILE")
	loadBefore := loadavg()

	dir := t.TempDir()
	script := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cert := benchCert(t, dir)
	backend, directHTTP, directHTTPS := startBackend(t, dir, cert)
	pier := startPier(t, dir, backend)
	caddyHTTP, caddyHTTPS := startCaddy(t, dir, backend, cert)
	nginxHTTP, nginxHTTPS := startNginxProxy(t, dir, backend, cert)
	auth := "Authorization: Basic " + basicAuth(benchUser, benchPassword)
	pierURL := func(scheme, app, addr string) string {
		return fmt.Sprintf("%s://%s.localhost:%d%s", scheme, app, port(addr), bodyPath)
	}
	targets := []target{
		{"direct to the backend", directHTTP, directHTTPS},
		{"pier", endpoint{url: pierURL("http", benchApp, pier.HTTP)}, endpoint{url: pierURL("https", benchApp, pier.HTTPS)}},
		{"pier, basic auth", endpoint{url: pierURL("http", benchAuthApp, pier.HTTP), headers: []string{auth}},
			endpoint{url: pierURL("https", benchAuthApp, pier.HTTPS), headers: []string{auth}}},
		{"caddy " + proxyVersion(t, "caddy", "version"), caddyHTTP, caddyHTTPS},
		{"nginx " + proxyVersion(t, "nginx", "-v"), nginxHTTP, nginxHTTPS},
	}
	scenarios := []scenario{
		{"HTTP", false, 64, true}, {"HTTP", false, 1, false},
		{"HTTPS", true, 64, true}, {"HTTPS", true, 1, false},
	}
	for _, tg := range targets {
		check(t, tg.name, tg.http)
		check(t, tg.name, tg.https)
		wrk(t, script, tg.http, 64, time.Second) // warm up connection pools
		wrk(t, script, tg.https, 64, time.Second)
	}

	results := map[[2]int][]result{} // [target, scenario] -> one per round
	for round := range rounds {
		for si, sc := range scenarios {
			d := dur
			if !sc.long {
				d = dur / 2
			}
			for i := range targets {
				ti := (i + round) % len(targets) // each round starts with another target
				e := targets[ti].http
				if sc.tls {
					e = targets[ti].https
				}
				var saved chan error
				if profiles != "" && round == 0 && sc.long && targets[ti].name == "pier" {
					saved = profile(pier.Pprof, filepath.Join(profiles, "router-"+strings.ToLower(sc.name)+".pprof"), d-time.Second)
				}
				results[[2]int{ti, si}] = append(results[[2]int{ti, si}], wrk(t, script, e, sc.conns, d))
				if saved != nil {
					if err := <-saved; err != nil {
						t.Errorf("profile: %v", err)
					}
				}
			}
		}
	}
	fmt.Print(routerTable(targets, scenarios, results, dur, rounds, loadBefore, loadavg()))
}

// wrk runs wrk on the client CPU against e and returns its requests/s and
// p99. Any error (a failed connection, a status other than 2xx or 3xx)
// fails the test.
func wrk(t *testing.T, script string, e endpoint, conns int, d time.Duration) result {
	t.Helper()
	args := []string{"-c", strconv.Itoa(clientCPU), "wrk", "-t1", "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(d.Seconds()+.5)) + "s", "--timeout", "5s", "-s", script}
	for _, h := range e.headers {
		args = append(args, "-H", h)
	}
	out, err := exec.Command("taskset", append(args, e.url)...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk %s: %v\n%s", e.url, err, out)
	}
	_, line, ok := strings.Cut(string(out), "result ")
	if !ok {
		t.Fatalf("wrk %s printed no result:\n%s", e.url, out)
	}
	f := map[string]float64{}
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		f[k], _ = strconv.ParseFloat(v, 64)
	}
	if errs := f["connect"] + f["read"] + f["write"] + f["status"] + f["timeout"]; errs > 0 {
		t.Fatalf("wrk %s: %v errors (%s)", e.url, errs, strings.TrimSpace(line))
	}
	return result{rps: f["requests"] / (f["duration"] / 1e6), p99: time.Duration(f["p99"]) * time.Microsecond}
}

// profile saves a CPU profile of seconds d of the router process into path,
// in the background.
func profile(pprofAddr, path string, d time.Duration) chan error {
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(d.Seconds())))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = f.ReadFrom(resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}

func routerTable(targets []target, scenarios []scenario, results map[[2]int][]result, dur time.Duration, rounds int, loadBefore, loadAfter string) string {
	med := func(ti, si int) result {
		rs := results[[2]int{ti, si}]
		rps, p99 := make([]float64, len(rs)), make([]time.Duration, len(rs))
		for i, r := range rs {
			rps[i], p99[i] = r.rps, r.p99
		}
		sort.Float64s(rps)
		return result{rps: rps[len(rps)/2], p99: median(p99)}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
	var b strings.Builder
	fmt.Fprintf(&b, "\nrouter: 4 KiB responses through each proxy to one backend (nginx); proxies pinned to CPU %d, wrk (1 thread) and the backend to CPU %d\n", proxyCPU, clientCPU)
	fmt.Fprintf(&b, "pier: 200 apps, IP allowlist (or basic auth) on the app, Prometheus metrics, access log to a file; nginx: access log to a file; caddy: its defaults (no access log)\n")
	fmt.Fprintf(&b, "medians of %d alternating rounds, %s per 64-connection run, %s per 1-connection run\n", rounds, dur, dur/2)
	fmt.Fprintf(&b, "%s\n%-26s", strings.Repeat("-", 120), "")
	for _, sc := range scenarios {
		fmt.Fprintf(&b, "  %-22s", fmt.Sprintf("%s, %d conn", sc.name, sc.conns))
	}
	fmt.Fprintf(&b, "\n%-26s", "")
	for range scenarios {
		fmt.Fprintf(&b, "  %10s %11s", "req/s", "p99")
	}
	fmt.Fprintln(&b)
	for ti, tg := range targets {
		fmt.Fprintf(&b, "%-26s", tg.name)
		for si := range scenarios {
			r := med(ti, si)
			fmt.Fprintf(&b, "  %10.0f %11s", r.rps, ms(r.p99))
		}
		fmt.Fprintln(&b)
	}
	find := func(prefix string) int {
		for i, tg := range targets {
			if tg.name == prefix || strings.HasPrefix(tg.name, prefix+" ") {
				return i
			}
		}
		return -1
	}
	pier, caddy, nginx := find("pier"), find("caddy"), find("nginx")
	fmt.Fprintln(&b)
	for si, sc := range scenarios {
		if sc.conns == 1 {
			continue
		}
		p, c, n := med(pier, si), med(caddy, si), med(nginx, si)
		fmt.Fprintf(&b, "%-6s req/s at %d conn: pier/caddy %.2fx (target >= 1.5x), pier/nginx %.2fx (target >= 0.5x)\n",
			sc.name, sc.conns, p.rps/c.rps, p.rps/n.rps)
	}
	for si, sc := range scenarios {
		if sc.conns != 1 {
			continue
		}
		p, c := med(pier, si), med(caddy, si)
		fmt.Fprintf(&b, "%-6s p99 at %d conn: pier %s, caddy %s: %.2fx (target <= 1x)\n", sc.name, sc.conns, ms(p.p99), ms(c.p99), float64(p.p99)/float64(c.p99))
	}
	fmt.Fprintf(&b, "load average before: %s, after: %s\n", loadBefore, loadAfter)
	fmt.Fprintf(&b, "\nraw req/s and p99 by round:\n")
	for si, sc := range scenarios {
		for ti, tg := range targets {
			fmt.Fprintf(&b, "  %-6s %2d conn  %-26s", sc.name, sc.conns, tg.name)
			for _, r := range results[[2]int{ti, si}] {
				fmt.Fprintf(&b, "  %8.0f %9s", r.rps, ms(r.p99))
			}
			fmt.Fprintln(&b)
		}
	}
	return b.String()
}

// proxyVersion is the version a proxy reports, such as "2.6.2".
func proxyVersion(t *testing.T, name string, arg string) string {
	out, err := exec.Command(name, arg).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, arg, err, out)
	}
	f := strings.Fields(string(out))
	for _, w := range f {
		w = strings.TrimPrefix(strings.TrimPrefix(w, "nginx/"), "v")
		if len(w) > 0 && w[0] >= '0' && w[0] <= '9' {
			return w
		}
	}
	return strings.TrimSpace(string(out))
}

func basicAuth(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// loadavg is the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pier/router/acmetest"
)

// clusterApp answers with its greeting.
func clusterApp(greeting string) map[string]string {
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

type nodeRow struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Role      string `json:"role"`
	Leader    bool   `json:"leader"`
	MemTotal  int64  `json:"memory_total_bytes"`
	MemAvail  int64  `json:"memory_available_bytes"`
	CPUs      int    `json:"cpus"`
	Instances int    `json:"instances"`
}

func (n *node) nodes(t *testing.T) []nodeRow {
	t.Helper()
	out, code := n.pier(nil, "nodes:list", "--format", "json")
	if code != 0 {
		t.Fatalf("nodes:list on %s: exit %d: %s", n.name, code, out)
	}
	var rows []nodeRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("nodes:list on %s: %v\n%s", n.name, err, out)
	}
	return rows
}

func (n *node) leader(t *testing.T) string {
	t.Helper()
	out, code := n.pier(nil, "cluster:status", "--format", "json")
	var st struct {
		Leader string `json:"leader"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		return ""
	}
	return st.Leader
}

func (n *node) token(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(pierBin, "cluster:token")
	cmd.Env = append(os.Environ(), "PIER_SOCKET="+n.socket)
	out, err := cmd.Output() // the token alone; the hint goes to stderr
	if err != nil {
		t.Fatalf("cluster:token on %s: %v", n.name, err)
	}
	return strings.TrimSpace(string(out))
}

func (n *node) clusterURL() string { return "https://" + n.ip + ":7946" }

func eventually(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (n *node) answers(app, want string) bool {
	code, body, err := n.get(app, "/")
	return err == nil && code == 200 && body == want
}

// Three machines become one pier: each joins with a one-time token, a push
// to any of them is served through every router, a deploy that moves an
// app loses no request, cron fires once, and the cluster goes on when its
// leader stops.
func TestCluster(t *testing.T) {
	// Public names get their certificates from Pebble, which reaches the
	// nodes on the bridge. Whichever machine orders a certificate, the
	// name resolves to another one for the challenge.
	var (
		pebble    *acmetest.Pebble
		orderedBy sync.Map // name -> "orderer ip -> answering ip"
	)
	nodes := startNodesWith(t, 3, func(host string, ips []string) []string {
		pebble = acmetest.Start(t, acmetest.Options{Validate: true, HTTPPort: nodeHTTPPort, TLSPort: nodeHTTPSPort,
			Listen: host, Resolve: ips[0], OnOrder: func(client string, names []string) {
				i := slices.Index(ips, client)
				for _, n := range names {
					pebble.SetAddress(n, ips[(i+1)%len(ips)])
					orderedBy.Store(n, client+" -> "+ips[(i+1)%len(ips)])
				}
			}})
		return []string{"--https", fmt.Sprintf(":%d", nodeHTTPSPort), "--acme-ca", pebble.Directory, "--acme-ca-roots", pebble.RootsFile}
	}, "--cron-seconds")
	a, b, c := nodes[0], nodes[1], nodes[2]
	key := a.key // the cluster keeps a's keys: joiners take its state

	began := time.Now()
	if out, code := a.pier(nil, "cluster:init"); code != 0 {
		t.Fatalf("cluster:init: exit %d\n%s", code, out)
	}
	tokB := a.token(t)
	if out, code := b.pier(nil, "cluster:join", a.clusterURL(), tokB); code != 0 {
		t.Fatalf("join b: exit %d\n%s", code, out)
	}
	t.Run("refused joins", func(t *testing.T) {
		parts := strings.Split(b.token(t), ".")
		forged := strings.Join(append(parts[:3:3], strings.Repeat("0", len(parts[3]))), ".")
		wrongPin := strings.Join([]string{parts[0], strings.Repeat("ab", 32), parts[2], parts[3]}, ".")
		for _, tc := range []struct{ what, url, token, want string }{
			{"a used token", a.clusterURL(), tokB, "already used"},
			{"a forged token", b.clusterURL(), forged, "secret is not the one"},
			{"another cluster's pin", a.clusterURL(), wrongPin, "is not the cluster this token is for"},
		} {
			out, code := c.pier(nil, "cluster:join", tc.url, tc.token)
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Errorf("join with %s: exit %d, %q; want an error saying %q", tc.what, code, out, tc.want)
			}
		}
		if out, _ := c.pier(nil, "cluster:status"); !strings.Contains(out, "not in a cluster") {
			t.Errorf("c after refused joins: %s", out)
		}
	})
	// c joins through a follower.
	if out, code := c.pier(nil, "cluster:join", b.clusterURL(), b.token(t)); code != 0 {
		t.Fatalf("join c: exit %d\n%s", code, out)
	}
	t.Logf("init and two joins in %s", time.Since(began).Round(time.Millisecond))

	t.Run("nodes", func(t *testing.T) {
		eventually(t, 15*time.Second, "every machine lists 3 alive machines with their load", func() bool {
			for _, n := range nodes {
				rows := n.nodes(t)
				if len(rows) != 3 {
					return false
				}
				for _, r := range rows {
					if r.State != "alive" || r.MemTotal == 0 || r.CPUs == 0 {
						return false
					}
				}
			}
			return true
		})
		rows := c.nodes(t)
		voters := 0
		for _, r := range rows {
			if r.Role == "voter" {
				voters++
			}
		}
		if voters != 3 || !rows[0].Leader {
			t.Errorf("nodes from c: %+v; want 3 voters, a leading", rows)
		}
	})

	repo := gitRepo(t, clusterApp("v1"))
	t.Run("push to any machine, served by every router", func(t *testing.T) {
		if out, ok := b.push(repo, "hello", key); !ok {
			t.Fatalf("push to b:\n%s", out)
		}
		pushed := time.Now()
		for _, n := range nodes {
			eventually(t, 5*time.Second, "v1 through "+n.name, func() bool { return n.answers("hello", "v1") })
		}
		t.Logf("v1 answered through every router %s after the push returned", time.Since(pushed).Round(time.Millisecond))
	})

	t.Run("a certificate is obtained once and served by every machine", func(t *testing.T) {
		const host = "www.hello.example"
		c.mustPier("domains:add", "hello", host)
		added := time.Now()
		var serial *big.Int
		for _, n := range nodes {
			var leaf *x509.Certificate
			eventually(t, 60*time.Second, "https://"+host+" through "+n.name, func() bool {
				var body string
				leaf, body = n.getTLS(host, pebble.Roots)
				return body == "v1"
			})
			if serial == nil {
				serial = leaf.SerialNumber
			} else if leaf.SerialNumber.Cmp(serial) != 0 {
				t.Errorf("%s serves certificate %x, another %x: want one certificate", n.name, leaf.SerialNumber, serial)
			}
		}
		who, _ := orderedBy.Load(host)
		t.Logf("certificate for %s ordered and challenge answered %v; served by every machine %s after domains:add",
			host, who, time.Since(added).Round(time.Millisecond))
		if got := pebble.Orders(host); got != 1 {
			t.Errorf("%d orders for %s; want 1 for the cluster", got, host)
		}
		// Plain HTTP now redirects on every machine.
		for _, n := range nodes {
			eventually(t, 10*time.Second, "a redirect through "+n.name, func() bool {
				req, _ := http.NewRequest("GET", "http://"+n.addr(nodeHTTPPort)+"/", nil)
				req.Host = host
				resp, err := noRedirects.Do(req)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusPermanentRedirect
			})
		}
	})

	t.Run("a deploy through another router loses no request", func(t *testing.T) {
		var out string
		failed, total := underLoad(t, []*node{c, a}, "hello", func() {
			// v2 is built on a and starts on b, where hello runs.
			commit(t, repo, clusterApp("v2"))
			var pushed bool
			if out, pushed = a.push(repo, "hello", key); !pushed {
				t.Errorf("push to a:\n%s", out)
			}
			eventually(t, 10*time.Second, "v2 through c", func() bool { return c.answers("hello", "v2") })
		})
		t.Logf("%d requests through c and a during the deploy, %d failed", total, failed)
		if failed > 0 {
			t.Errorf("%d of %d requests failed", failed, total)
		}
		if !strings.Contains(out, "hello runs on b: starting v2 there") || !strings.Contains(out, "Released v2") {
			t.Errorf("the push to a does not say v2 started on b:\n%s", out)
		}
		if out := a.mustPier("ps:report", "hello"); strings.Contains(out, "hello-") || !strings.Contains(out, "Runs on b") {
			t.Errorf("a runs hello, built there, or does not say where it runs:\n%s", out)
		}
		if out := c.mustPier("apps:report", "hello"); !strings.Contains(out, "Runs on:") || !strings.Contains(out, " b\n") {
			t.Errorf("apps:report on c does not say hello runs on b:\n%s", out)
		}
	})

	t.Run("ps:restart on a machine the app does not run on", func(t *testing.T) {
		ids := regexp.MustCompile(`hello-[0-9a-f]+`)
		before := ids.FindAllString(b.mustPier("ps:report", "hello"), -1)
		if len(before) == 0 {
			t.Fatalf("ps:report on b shows no instance of hello:\n%s", b.mustPier("ps:report", "hello"))
		}
		failed, total := underLoad(t, []*node{a, c}, "hello", func() {
			out := c.mustPier("ps:restart", "hello")
			if !strings.Contains(out, "runs on b") {
				t.Errorf("ps:restart on c does not say where hello restarts:\n%s", out)
			}
			eventually(t, 30*time.Second, "b's instances replaced", func() bool {
				now := ids.FindAllString(b.mustPier("ps:report", "hello"), -1)
				return len(now) == len(before) && !slices.ContainsFunc(now, func(id string) bool { return slices.Contains(before, id) })
			})
		})
		t.Logf("%d requests through a and c during the restart, %d failed", total, failed)
		if failed > 0 {
			t.Errorf("%d of %d requests failed", failed, total)
		}
	})

	t.Run("a change on a follower lands everywhere", func(t *testing.T) {
		c.mustPier("config:set", "hello", "--no-restart", "GREETING=hi")
		for _, n := range nodes {
			eventually(t, 5*time.Second, "GREETING on "+n.name, func() bool {
				out, code := n.pier(nil, "config:get", "hello", "GREETING")
				return code == 0 && strings.TrimSpace(out) == "hi"
			})
		}
	})

	t.Run("a sleeping app wakes from another machine", func(t *testing.T) {
		// sleep:now on a: b, where hello runs, stops it.
		a.mustPier("sleep:now", "hello", "--stop")
		eventually(t, 10*time.Second, "hello asleep on b", func() bool {
			out, _ := b.pier(nil, "ps:report", "hello")
			return strings.Contains(out, "asleep") && !strings.Contains(out, "hello-")
		})
		code, body, err := c.get("hello", "/")
		if err != nil || code != 200 || body != "v2" {
			t.Errorf("through c while asleep on b: %d %q %v", code, body, err)
		}
	})

	t.Run("ps:scale spreads an app over the machines", func(t *testing.T) {
		a.mustPier("ps:scale", "hello", "web=3")
		for _, n := range nodes {
			var out string
			eventually(t, 30*time.Second, "one web instance running on "+n.name, func() bool {
				out, _ = n.pier(nil, "ps:report", "hello")
				if !strings.Contains(out, "1/1 running") {
					return false
				}
				return true
			})
			t.Logf("on %s: %s", n.name, out)
		}
		out := c.mustPier("apps:report", "hello")
		line := out[strings.Index(out, "Runs on:"):]
		line = line[:strings.Index(line, "\n")]
		if strings.Count(line, ",") != 2 || !strings.Contains(line, "a") || !strings.Contains(line, "b") || !strings.Contains(line, "c") {
			t.Errorf("apps:report does not say hello runs on a, b and c:\n%s", out)
		}
		// A deploy of the spread app: each machine fetches the new image
		// from the one that built it; no request is lost meanwhile.
		failed, total := underLoad(t, nodes, "hello", func() {
			commit(t, repo, clusterApp("v2.1"))
			if out, ok := b.push(repo, "hello", key); !ok {
				t.Errorf("push to b:\n%s", out)
			}
			for _, n := range nodes {
				eventually(t, 30*time.Second, "v2.1 through "+n.name, func() bool { return n.answers("hello", "v2.1") })
			}
		})
		t.Logf("%d requests through a, b and c during the deploy, %d failed", total, failed)
		if failed > 0 {
			t.Errorf("%d of %d requests failed", failed, total)
		}
		for _, n := range nodes {
			eventually(t, 30*time.Second, "v2.1 running on "+n.name, func() bool {
				out, _ := n.pier(nil, "ps:report", "hello")
				return strings.Contains(out, "release v") && strings.Contains(out, "1/1 running") && !strings.Contains(out, "retiring")
			})
		}
	})

	cronRepo := gitRepo(t, map[string]string{
		"Procfile": "web: python3 -m http.server $PORT\n",
		"app.json": `{"cron": [{"id": "tick", "schedule": "*/2 * * * * *", "command": "echo tick"}]}`,
	})
	if out, ok := b.push(cronRepo, "ticker", key); !ok {
		t.Fatalf("push ticker to b:\n%s", out)
	}
	tickerSince := time.Now()
	t.Run("cron fires once per tick", func(t *testing.T) {
		time.Sleep(9 * time.Second)
		checkOnce(t, nodes, "ticker", 3)
		// The leader, a, fires; b, where ticker runs, runs the jobs.
		if n := strings.Count(b.log.String(), `msg="ran a one-off for another machine" component=cluster app=ticker for=a exit=0`); n < 3 {
			t.Errorf("b ran %d of ticker's jobs for a; want every tick's", n)
		}
	})
	t.Run("logs say where an app runs", func(t *testing.T) {
		out, code := c.pier(nil, "logs", "ticker")
		if code == 0 || !strings.Contains(out, "runs on b") {
			t.Errorf("logs of ticker on c: exit %d, %q; want it sent to b", code, out)
		}
		if _, code := b.pier(nil, "logs", "ticker", "-n", "5"); code != 0 {
			t.Errorf("logs of ticker on b: exit %d", code)
		}
	})
	t.Run("run on a machine the app does not run on", func(t *testing.T) {
		if out := c.mustPier("run", "ticker", "--", "echo", "one-off on c"); !strings.Contains(out, "one-off on c") {
			t.Errorf("run on c: %q", out)
		}
	})

	t.Run("run and enter on a machine the app does not run on reach it", func(t *testing.T) {
		if got, code := c.pier(strings.NewReader("over the cluster\n"), "run", "ticker", "--", "cat"); code != 0 || got != "over the cluster\n" {
			t.Errorf("run on c with stdin: exit %d, %q", code, got)
		}
		if got, code := c.pier(strings.NewReader("echo entered; exit 3\n"), "enter", "ticker"); code != 3 || got != "entered\n" {
			t.Errorf("enter on c with a script on stdin: exit %d, %q; want 3 and entered", code, got)
		}
		// A terminal, through ssh -t to c, and its resizes.
		checkTerminal(t, c.sshSession(t, key), "enter ticker")
		for _, kind := range []string{"run", "enter"} {
			if want := `msg="ran a shell for another machine" component=cluster kind=` + kind + ` app=ticker for=c`; !strings.Contains(b.log.String(), want) {
				t.Errorf("b's log lacks %q", want)
			}
		}
	})

	t.Run("the leader stops", func(t *testing.T) {
		a.stop()
		stopped := time.Now()
		var leader string
		eventually(t, 20*time.Second, "a new leader", func() bool {
			leader = b.leader(t)
			return leader == "b" || leader == "c"
		})
		t.Logf("%s leads %s after a stopped", leader, time.Since(stopped).Round(100*time.Millisecond))
		// Pushes and commands go on through the others.
		commit(t, repo, clusterApp("v3"))
		if out, ok := c.push(repo, "hello", key); !ok {
			t.Fatalf("push to c with a stopped:\n%s", out)
		}
		eventually(t, 10*time.Second, "v3 through b", func() bool { return b.answers("hello", "v3") })
		if !c.answers("ticker", "") {
			if code, _, err := c.get("ticker", "/"); err != nil || code != 200 {
				t.Errorf("ticker through c: %d %v", code, err)
			}
		}
		since := time.Now()
		time.Sleep(7 * time.Second)
		checkOnceSince(t, []*node{b, c}, "ticker", since, 2)

		// a comes back with all its memory kept for itself.
		a.flags = append(a.flags, "--memory-reserved", "1048576")
		a.startPier(t)
		eventually(t, 20*time.Second, "a back, serving v3", func() bool { return a.answers("hello", "v3") })
	})

	t.Run("a new app goes where there is room, wherever it is pushed", func(t *testing.T) {
		eventually(t, 10*time.Second, "a's load with no room", func() bool {
			for _, r := range b.nodes(t) {
				if r.Name == "a" {
					return r.State == "alive" && r.MemAvail == 0
				}
			}
			return false
		})
		roomy := gitRepo(t, clusterApp("roomy"))
		out, ok := a.push(roomy, "roomy", key)
		if !ok {
			t.Fatalf("push roomy to a:\n%s", out)
		}
		m := regexp.MustCompile(`Placing roomy on ([bc]), the machine with the most room`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the push to a does not say where roomy goes:\n%s", out)
		}
		for _, n := range nodes {
			eventually(t, 10*time.Second, "roomy through "+n.name, func() bool { return n.answers("roomy", "roomy") })
		}
		if ps := a.mustPier("ps:report", "roomy"); strings.Contains(ps, "roomy-") || !strings.Contains(ps, "Runs on "+m[1]) {
			t.Errorf("ps:report roomy on a:\n%s", ps)
		}
		a.mustPier("apps:destroy", "roomy", "--force")
	})

	t.Run("cron ran once per tick all along", func(t *testing.T) {
		// Since ticker was pushed, for a minute at least: through the
		// leader's stop, an election and its return.
		if d := time.Minute - time.Since(tickerSince); d > 0 {
			time.Sleep(d)
		}
		span := time.Since(tickerSince)
		checkOnceSince(t, nodes, "ticker", tickerSince, int((span-15*time.Second)/(2*time.Second)))
		t.Logf("over %s", span.Round(time.Second))
	})

	t.Run("a machine leaves, its apps move first", func(t *testing.T) {
		solo := gitRepo(t, clusterApp("solo"))
		if out, ok := c.push(solo, "solo", key); !ok {
			t.Fatalf("push solo to c:\n%s", out)
		}
		eventually(t, 10*time.Second, "solo through a", func() bool { return a.answers("solo", "solo") })
		var out string
		failed, total := underLoad(t, []*node{a, b}, "solo", func() {
			var code int
			out, code = c.pier(nil, "cluster:leave")
			if code != 0 {
				t.Errorf("cluster:leave on c: exit %d\n%s", code, out)
			}
		})
		t.Logf("cluster:leave:\n%s%d requests through a and b meanwhile, %d failed", out, total, failed)
		if failed > 0 {
			t.Errorf("%d of %d requests to solo failed while c left", failed, total)
		}
		if rows := a.nodes(t); len(rows) != 2 {
			t.Errorf("nodes after c left: %+v", rows)
		}
		if out, _ := c.pier(nil, "cluster:status"); !strings.Contains(out, "not in a cluster") {
			t.Errorf("c after leaving: %s", out)
		}
		for _, n := range []*node{a, b} {
			for app, want := range map[string]string{"solo": "solo", "hello": "v3"} {
				if !n.answers(app, want) {
					t.Errorf("%s through %s after c left", app, n.name)
				}
			}
		}
	})
}

// checkOnce checks that the cron entry tick of app ran at least min times
// in the cluster, and never twice for one scheduled instant.
func checkOnce(t *testing.T, nodes []*node, app string, min int) {
	t.Helper()
	checkOnceSince(t, nodes, app, time.Time{}, min)
}

func checkOnceSince(t *testing.T, nodes []*node, app string, since time.Time, min int) {
	t.Helper()
	seen := map[string]string{}
	total := 0
	for _, n := range nodes {
		for _, r := range n.cronRuns(app, "tick") {
			if r.Started.Before(since) {
				continue
			}
			at := r.Started.Truncate(time.Second).Format(time.TimeOnly)
			if other, dup := seen[at]; dup {
				t.Errorf("tick at %s ran on %s and on %s", at, other, n.name)
			}
			seen[at] = n.name
			total++
		}
	}
	if total < min {
		t.Errorf("tick ran %d times, want at least %d: %v", total, min, seen)
	}
	t.Logf("tick ran %d times: %s", total, fmt.Sprint(seen))
}

// underLoad runs do while a client loop requests app through every node's
// router, and returns how many requests failed, of how many.
func underLoad(t *testing.T, nodes []*node, app string, do func()) (failed, total int64) {
	var ok, bad atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, _, err := n.get(app, "/"); err == nil && code == 200 {
					ok.Add(1)
				} else {
					bad.Add(1)
					t.Logf("through %s: %d %v", n.name, code, err)
				}
			}
		}()
	}
	do()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	return bad.Load(), ok.Load() + bad.Load()
}

// noRedirects is a client that returns redirects as they are.
var noRedirects = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// getTLS fetches https://host/ through the node's HTTPS port, verifying
// its certificate against roots, and returns the certificate and body;
// nil and "" if it could not.
func (n *node) getTLS(host string, roots *x509.CertPool) (*x509.Certificate, string) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, n.addr(nodeHTTPSPort))
		},
	}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + host + "/")
	if err != nil {
		return nil, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.TLS.PeerCertificates[0], string(b)
}

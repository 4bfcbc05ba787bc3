package e2e

// End-to-end tests of static sites: pushed, served by the router from the
// image's files with no container, redeployed, rolled back to and from a
// release with a web process, kept through a daemon restart, destroyed.

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// staticSite is a plain site: HTML, a stylesheet and a script large enough
// to be compressed, an image, and its own 404 page.
func staticSite(title string) map[string]string {
	return map[string]string{
		"index.html":   "<!doctype html><title>" + title + "</title><link rel=stylesheet href=css/site.css><h1>" + title + "</h1>",
		"css/site.css": strings.Repeat("body { font-family: sans-serif; margin: 0 auto; max-width: 40em; }\n", 40),
		"js/app.js":    strings.Repeat("document.querySelector('h1').dataset.ready = 'yes';\n", 40),
		"img/dot.png":  "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"404.html":     "<h1>lost</h1>",
	}
}

// request sends a request for path to app through the router.
func (d *daemon) request(method, app, path string, header http.Header) (*http.Response, string) {
	d.t.Helper()
	req, _ := http.NewRequest(method, "http://"+d.addr(d.httpPort)+path, nil)
	req.Host = app + ".localhost"
	for k, v := range header {
		req.Header[k] = v
	}
	// A transport of its own: the default one asks for gzip and undoes it.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		d.t.Fatalf("%s %s%s: %v", method, app, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("%s %s%s: %v", method, app, path, err)
	}
	return resp, string(b)
}

// siteMounts lists the static sites mounted under the daemon's data.
func (d *daemon) siteMounts() []string {
	d.t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	prefix := filepath.Join(d.data, "runtime", "sites") + "/"
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], prefix) {
			out = append(out, fields[4])
		}
	}
	return out
}

// waitMounts waits until n sites are mounted.
func (d *daemon) waitMounts(n int) {
	d.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(d.siteMounts()) != n {
		if time.Now().After(deadline) {
			d.t.Fatalf("%d sites mounted, want %d: %v", len(d.siteMounts()), n, d.siteMounts())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitContainers waits until n containers exist in the test namespace.
func (d *daemon) waitContainers(n int) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d.env.Containers(d.t) != n {
		if time.Now().After(deadline) {
			d.t.Fatalf("%d containers, want %d", d.env.Containers(d.t), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rss is the daemon's resident memory in kB.
func (d *daemon) rss() int {
	d.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		d.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			var kb int
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	return 0
}

func TestStaticSite(t *testing.T) {
	d := startDaemon(t)
	files := staticSite("v1")
	repo := gitRepo(t, files)
	start := time.Now()
	out, ok := d.push(repo, "site", d.key)
	if !ok {
		t.Fatalf("push:\n%s", out)
	}
	t.Logf("first push of a static site to served: %s\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, want := range []string{"Building site (static)", "Static site: serving the top of the repository", "Released v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q", want)
		}
	}
	if n := d.env.Containers(t); n != 0 {
		t.Fatalf("%d containers after deploying a static site, want none", n)
	}
	if len(d.siteMounts()) != 1 {
		t.Fatalf("sites mounted: %v, want one", d.siteMounts())
	}

	t.Run("files are served with their content types", func(t *testing.T) {
		for _, tt := range []struct{ path, ctype, body string }{
			{"/", "text/html; charset=utf-8", files["index.html"]},
			{"/css/site.css", "text/css; charset=utf-8", files["css/site.css"]},
			{"/js/app.js", "text/javascript; charset=utf-8", files["js/app.js"]},
			{"/img/dot.png", "image/png", files["img/dot.png"]},
		} {
			resp, body := d.request("GET", "site", tt.path, nil)
			if resp.StatusCode != 200 || body != tt.body {
				t.Errorf("GET %s: %d, %d bytes", tt.path, resp.StatusCode, len(body))
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("GET %s: Content-Type %q, want %q", tt.path, got, tt.ctype)
			}
		}
		resp, body := d.request("GET", "site", "/nowhere", nil)
		if resp.StatusCode != 404 || body != files["404.html"] {
			t.Errorf("missing page: %d %q, want the site's 404.html", resp.StatusCode, body)
		}
		resp, body = d.request("HEAD", "site", "/css/site.css", nil)
		if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != fmt.Sprint(len(files["css/site.css"])) {
			t.Errorf("HEAD: %d, %d bytes, Content-Length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
		}
	})

	t.Run("ETag and Last-Modified answer 304", func(t *testing.T) {
		resp, _ := d.request("GET", "site", "/js/app.js", nil)
		tag, mod := resp.Header.Get("Etag"), resp.Header.Get("Last-Modified")
		if tag == "" || mod == "" {
			t.Fatalf("ETag %q, Last-Modified %q", tag, mod)
		}
		for _, h := range []http.Header{{"If-None-Match": {tag}}, {"If-Modified-Since": {mod}}} {
			if resp, body := d.request("GET", "site", "/js/app.js", h); resp.StatusCode != 304 || body != "" {
				t.Errorf("conditional GET %v: %d, %d bytes", h, resp.StatusCode, len(body))
			}
		}
	})

	t.Run("gzip when asked for", func(t *testing.T) {
		resp, body := d.request("GET", "site", "/css/site.css", http.Header{"Accept-Encoding": {"gzip, br"}})
		if resp.Header.Get("Content-Encoding") != "gzip" || len(body) >= len(files["css/site.css"]) {
			t.Fatalf("Content-Encoding %q, %d bytes for a %d-byte file", resp.Header.Get("Content-Encoding"), len(body), len(files["css/site.css"]))
		}
		zr, err := gzip.NewReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if plain, _ := io.ReadAll(zr); string(plain) != files["css/site.css"] {
			t.Errorf("gunzipped body differs from the file")
		}
		if resp, _ := d.request("GET", "site", "/css/site.css", nil); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("gzip for a client that did not ask for it")
		}
	})

	t.Run("no container, never sleeps, web cannot be scaled", func(t *testing.T) {
		if list, _ := d.rt.Instances(context.Background()); len(list) != 0 {
			t.Errorf("instances: %+v", list)
		}
		if s := d.state("site"); s != "static" {
			t.Errorf("ps:report state %q, want static", s)
		}
		var apps []struct{ Name, State string }
		json.Unmarshal([]byte(d.mustPier("apps:list", "--format", "json")), &apps)
		if len(apps) != 1 || apps[0].State != "static" {
			t.Errorf("apps:list: %+v", apps)
		}
		if out, code := d.pier(nil, "ps:scale", "site", "web=2"); code == 0 || !strings.Contains(out, "static site") {
			t.Errorf("ps:scale web=2: exit %d\n%s", code, out)
		}
		if out, code := d.pier(nil, "sleep:now", "site"); code == 0 || !strings.Contains(out, "static site") {
			t.Errorf("sleep:now: exit %d\n%s", code, out)
		}
	})

	t.Run("latency of a file through the router", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		var took []time.Duration
		for i := 0; i < 300; i++ {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.httpPort), nil)
			req.Host = "site.localhost"
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took = append(took, time.Since(t0))
		}
		slices.Sort(took)
		t.Logf("GET / of a static site (keep-alive, %d requests): p50 %s, p99 %s", len(took), took[len(took)/2], took[len(took)*99/100])
	})

	t.Run("a redeploy is served, and the old release's files are unmounted", func(t *testing.T) {
		commit(t, repo, map[string]string{"index.html": "<h1>v2</h1>"})
		start := time.Now()
		if out, ok := d.push(repo, "site", d.key); !ok {
			t.Fatalf("push:\n%s", out)
		}
		if got := d.body("site", "/"); got != "<h1>v2</h1>" {
			t.Fatalf("after redeploy: %q", got)
		}
		t.Logf("redeploy of a static site, push to served: %s", time.Since(start).Round(time.Millisecond))
		d.waitMounts(1)
	})

	t.Run("rollback to and from a release with a web process", func(t *testing.T) {
		// v3: a Procfile web line makes it an app with a process.
		commit(t, repo, map[string]string{"Procfile": "web: python3 -m http.server $PORT\n", "index.html": "<h1>v3 from python</h1>"})
		if out, ok := d.push(repo, "site", d.key); !ok {
			t.Fatalf("push:\n%s", out)
		}
		if got := d.body("site", "/"); got != "<h1>v3 from python</h1>" {
			t.Fatalf("v3: %q", got)
		}
		if s := d.state("site"); s != "running" {
			t.Errorf("state with a web process: %q", s)
		}
		d.waitMounts(0)
		d.waitContainers(1)

		l := startLoad(d, "site", 2)
		d.mustPier("releases:rollback", "site", "v2") // v4: static again
		if got := d.body("site", "/"); got != "<h1>v2</h1>" {
			t.Fatalf("rolled back to the static v2: %q", got)
		}
		d.waitContainers(0)
		d.waitMounts(1)
		d.mustPier("releases:rollback", "site", "v3") // v5: the web process again
		if got := d.body("site", "/"); got != "<h1>v3 from python</h1>" {
			t.Fatalf("rolled back to v3: %q", got)
		}
		d.waitMounts(0)
		d.mustPier("releases:rollback", "site", "v4") // v6: static
		l.finish()
		t.Logf("%d requests answered during the rollbacks, %d failed", l.ok.Load(), l.failed.Load())
		if l.failed.Load() != 0 {
			t.Errorf("%d failed requests: %q", l.failed.Load(), l.failures)
		}
		d.waitContainers(0)
		d.waitMounts(1)
	})

	t.Run("a Node build that makes dist/ is a static site", func(t *testing.T) {
		node := gitRepo(t, map[string]string{
			"package.json": `{"name":"built","version":"1.0.0","scripts":{"build":"node build.js"}}`,
			"build.js": `const fs = require('fs'); fs.mkdirSync('dist', {recursive: true});
fs.writeFileSync('dist/index.html', '<h1>built at ' + 'build time</h1>');`,
		})
		out, ok := d.push(node, "built", d.key)
		if !ok || !strings.Contains(out, "npm run build") || !strings.Contains(out, "Static site: serving dist/") {
			t.Fatalf("push (ok=%v):\n%s", ok, out)
		}
		if got := d.body("built", "/"); got != "<h1>built at build time</h1>" {
			t.Fatalf("got %q", got)
		}
		if n := d.env.Containers(t); n != 0 {
			t.Errorf("%d containers", n)
		}
	})

	t.Run("memory of more static sites", func(t *testing.T) {
		before := d.rss()
		small := gitRepo(t, map[string]string{"index.html": "<h1>small</h1>"})
		for i := 0; i < 5; i++ {
			if out, ok := d.push(small, fmt.Sprintf("small%d", i), d.key); !ok {
				t.Fatalf("push:\n%s", out)
			}
			d.body(fmt.Sprintf("small%d", i), "/")
		}
		t.Logf("daemon RSS %d kB before and %d kB after 5 more static sites (served once each)", before, d.rss())
	})

	t.Run("a restarted daemon serves it still", func(t *testing.T) {
		mounts := d.siteMounts()
		d.stop()
		d.start()
		// The router listens before the apps are routed again.
		for app, want := range map[string]string{"site": "<h1>v2</h1>", "built": "<h1>built at build time</h1>"} {
			deadline := time.Now().Add(10 * time.Second)
			for {
				code, body, _ := d.get(app, "/")
				if code == 200 && body == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after restart %s answers %d %q", app, code, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if after := d.siteMounts(); !slices.Equal(after, mounts) {
			t.Errorf("mounts before the restart %v, after %v", mounts, after)
		}
		if n := d.env.Containers(t); n != 0 {
			t.Errorf("%d containers", n)
		}
	})

	t.Run("a renamed site is served under its new name", func(t *testing.T) {
		before := len(d.siteMounts())
		d.mustPier("apps:rename", "small0", "tiny")
		if got := d.body("tiny", "/"); got != "<h1>small</h1>" {
			t.Errorf("the renamed site answers %q", got)
		}
		if resp, _ := d.request("GET", "small0", "/", nil); resp.StatusCode != 404 {
			t.Errorf("the old name answers %d", resp.StatusCode)
		}
		if after := len(d.siteMounts()); after != before {
			t.Errorf("mounts: %d before the rename, %d after", before, after)
		}
		if n := d.env.Containers(t); n != 0 {
			t.Errorf("%d containers", n)
		}
	})

	t.Run("destroy removes the mount", func(t *testing.T) {
		before := len(d.siteMounts())
		d.mustPier("apps:destroy", "site", "--force")
		if resp, _ := d.request("GET", "site", "/", nil); resp.StatusCode != 404 {
			t.Errorf("destroyed site answers %d", resp.StatusCode)
		}
		if after := len(d.siteMounts()); after != before-1 {
			t.Errorf("mounts: %d before destroy, %d after", before, after)
		}
		sites, err := d.rt.Sites(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			if s.App == "site" {
				t.Errorf("site still known to the runtime: %+v", s)
			}
		}
	})
}

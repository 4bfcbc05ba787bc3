package builder_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pier/app"
	"pier/builder"
	"pier/runtime/runtimetest"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A Python app is built on the base, started read-only in its own network
// namespace, and answers HTTP on its PORT.
func TestBuildAndRunPython(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	b := builder.New(builder.Config{Base: builder.DefaultBase, CacheDir: t.TempDir(), CABundle: rt.CABundle()}, rt)
	src := writeFiles(t, map[string]string{
		"app.py": `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from python"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
	})
	var out bytes.Buffer
	start := time.Now()
	build, err := b.Build(ctx, app.BuildRequest{App: "hello", Dir: src, Out: &out})
	t.Logf("build took %s:\n%s", time.Since(start), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if build.Stack != "python" || build.Processes["web"] != "python3 app.py" {
		t.Fatalf("got stack %q web %q, want python / python3 app.py", build.Stack, build.Processes["web"])
	}
	start = time.Now()
	in, err := rt.Start(ctx, app.Instance{ID: "hello-test1", App: "hello", Release: 1, Process: "web",
		Image: build.Image, Command: build.Processes["web"], Port: 5000, Env: []string{"PORT=5000"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started %s at %s in %s", in.ID, in.Addr, time.Since(start))
	var body []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + in.Addr + "/")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance never answered: %v; log: %q", err, rt.Tail("hello", in.ID, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("answered after %s", time.Since(start))
	if string(body) != "hello from python" {
		t.Fatalf("got %q, want %q", body, "hello from python")
	}
	list, err := rt.Instances(ctx)
	if err != nil || len(list) != 1 || !list[0].Running || list[0].Addr != in.Addr {
		t.Fatalf("Instances() = %+v, %v; want the one running instance", list, err)
	}
	if err := rt.Stop(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := rt.Instances(ctx); len(list) != 0 {
		t.Fatalf("after Stop: %+v, want none", list)
	}
}

// Builds without a web process that end with an index.html are static
// sites: served from public/, dist/ (here made by package.json's build
// script) or the top; a Procfile's web line wins.
func TestBuildStaticSites(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	b := builder.New(builder.Config{Base: builder.DefaultBase, CacheDir: t.TempDir(), CABundle: rt.CABundle()}, rt)
	tests := []struct {
		name       string
		files      map[string]string
		web        bool // the Procfile names a web process
		wantStack  string
		wantStatic string
		wantOut    string
	}{
		{"plain site", map[string]string{"index.html": "<h1>hi</h1>", "css/site.css": "h1{}"}, false,
			"static", "/app", "Static site: serving the top of the repository"},
		{"public", map[string]string{"public/index.html": "hi", "README.md": "x"}, false,
			"static", "/app/public", "Static site: serving public/"},
		{"node build to dist", map[string]string{
			"package.json": `{"name":"site","version":"1.0.0","scripts":{"build":"node build.js"}}`,
			"build.js":     `const fs = require('fs'); fs.mkdirSync('dist', {recursive: true}); fs.writeFileSync('dist/index.html', '<h1>built</h1>');`,
		}, false, "node", "/app/dist", "Static site: serving dist/"},
		{"node build without an index.html", map[string]string{
			"package.json": `{"name":"site","version":"1.0.0","scripts":{"build":"node -e 0"}}`,
		}, false, "node", "", "npm run build"},
		{"a Procfile web line wins", map[string]string{"Procfile": "web: python3 -m http.server $PORT\n", "index.html": "hi"}, true,
			"procfile", "", "Built"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			build, err := b.Build(ctx, app.BuildRequest{App: "site", Dir: writeFiles(t, tt.files), Out: &out, Web: tt.web})
			t.Logf("build output:\n%s", out.String())
			if err != nil {
				t.Fatal(err)
			}
			defer rt.RemoveImage(ctx, build.Image)
			if build.Stack != tt.wantStack || build.Static != tt.wantStatic {
				t.Errorf("got stack %q static %q, want %q %q", build.Stack, build.Static, tt.wantStack, tt.wantStatic)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("build output lacks %q", tt.wantOut)
			}
		})
	}
}

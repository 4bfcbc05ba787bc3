package builder_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
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

// wheel is a minimal pure-Python wheel of a package "hellodep", so that a
// build installs a real dependency without a package index.
func wheel(t *testing.T) string {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, f := range [][2]string{
		{"hellodep/__init__.py", "WORD = 'wheel'\n"},
		{"hellodep-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: hellodep\nVersion: 1.0\n"},
		{"hellodep-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: pier-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{"hellodep-1.0.dist-info/RECORD", "hellodep/__init__.py,,\nhellodep-1.0.dist-info/METADATA,,\nhellodep-1.0.dist-info/WHEEL,,\nhellodep-1.0.dist-info/RECORD,,\n"},
	} {
		w, _ := z.Create(f[0])
		w.Write([]byte(f[1]))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// An app's dependencies are installed into a layer of their own, kept while
// requirements.txt stays the same: a code-only build runs nothing, and what
// the source no longer has is gone from the new image. A new requirements
// file makes a new layer, the old one is removed, and so are all of them
// with the app's files; images built on a removed layer still run.
func TestDependencyLayer(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	b := builder.New(builder.Config{Base: builder.DefaultBase, CacheDir: t.TempDir(), CABundle: rt.CABundle()}, rt)
	source := func(version string, extra bool) map[string]string {
		files := map[string]string{
			"requirements.txt":                     "--no-index\n./wheels/hellodep-1.0-py3-none-any.whl\n",
			"wheels/hellodep-1.0-py3-none-any.whl": wheel(t),
			"app.py": `import http.server, os, hellodep
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("` + version + ` %s extra=%s" % (hellodep.WORD, os.path.exists("/app/extra.txt"))).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
`,
		}
		if extra {
			files["extra.txt"] = "x"
		}
		return files
	}
	build := func(files map[string]string) (app.Build, string) {
		t.Helper()
		var out bytes.Buffer
		bd, err := b.Build(ctx, app.BuildRequest{App: "deps", Dir: writeFiles(t, files), Out: &out})
		t.Logf("build output:\n%s", out.String())
		if err != nil {
			t.Fatal(err)
		}
		return bd, out.String()
	}
	get := func(image string, i int) string {
		t.Helper()
		in, err := rt.Start(ctx, app.Instance{ID: fmt.Sprintf("deps-test%d", i), App: "deps", Release: 1, Process: "web",
			Image: image, Command: "python3 app.py", Port: 5000, Env: []string{"PORT=5000"}})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Stop(ctx, in.ID)
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + in.Addr + "/")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return string(body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance never answered: %v; log: %q", err, rt.Tail("deps", in.ID, 20))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	layers := func() []string {
		t.Helper()
		names, err := rt.DepsImages(ctx, "deps")
		if err != nil {
			t.Fatal(err)
		}
		return names
	}

	v1, out := build(source("v1", true))
	if !strings.Contains(out, "Installing dependencies") {
		t.Fatal("the first build installed nothing")
	}
	if got := get(v1.Image, 1); got != "v1 wheel extra=True" {
		t.Fatalf("v1 answered %q", got)
	}
	first := layers()
	if len(first) != 1 {
		t.Fatalf("dependency layers after the first build: %q, want one", first)
	}

	v2, out := build(source("v2", false))
	if !strings.Contains(out, "Dependencies unchanged") || strings.Contains(out, "Installing") || strings.Contains(out, "python ") {
		t.Fatal("a code-only build installed or ran something")
	}
	if got := get(v2.Image, 2); got != "v2 wheel extra=False" {
		t.Fatalf("v2 answered %q, want the new code, the dependency and no extra.txt", got)
	}

	changed := source("v3", false)
	changed["requirements.txt"] += "# pinned\n"
	v3, out := build(changed)
	if !strings.Contains(out, "Installing dependencies") {
		t.Fatal("a new requirements.txt did not install the dependencies again")
	}
	if now := layers(); len(now) != 1 || now[0] == first[0] {
		t.Fatalf("dependency layers after a new requirements.txt: %q, want one other than %q", now, first)
	}
	if got := get(v2.Image, 3); got != "v2 wheel extra=False" {
		t.Fatalf("v2, built on the removed layer, answered %q", got)
	}
	if err := rt.RemoveFiles("deps"); err != nil {
		t.Fatal(err)
	}
	if now := layers(); len(now) != 0 {
		t.Fatalf("dependency layers after the app's files were removed: %q", now)
	}
	if got := get(v3.Image, 4); got != "v3 wheel extra=False" {
		t.Fatalf("v3 answered %q after its layer was removed", got)
	}
}

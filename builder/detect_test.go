package builder

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		wantStack string
		wantWeb   string
		wantErr   error
	}{
		{"node start script", map[string]string{"package.json": `{"scripts":{"start":"node app.js --port $PORT"}}`},
			"node", "node app.js --port $PORT", nil},
		{"node main", map[string]string{"package.json": `{"main":"srv.js"}`, "srv.js": ""}, "node", "node 'srv.js'", nil},
		{"node server.js", map[string]string{"package.json": `{}`, "server.js": ""}, "node", "node server.js", nil},
		{"node without entry point", map[string]string{"package.json": `{}`}, "node", "", nil},
		{"python requirements", map[string]string{"requirements.txt": "flask\n", "app.py": ""}, "python", "python3 app.py", nil},
		{"python stdlib", map[string]string{"main.py": ""}, "python", "python3 main.py", nil},
		{"procfile only", map[string]string{"Procfile": "web: ./run.sh\n"}, "procfile", "", nil},
		{"node wins over procfile", map[string]string{"package.json": `{}`, "Procfile": "web: x\n"}, "node", "", nil},
		{"nothing", map[string]string{"README.md": "hi"}, "", "", ErrUnknownStack},
		{"static index.html at the top", map[string]string{"index.html": "<h1>hi</h1>", "style.css": ""}, "static", "", nil},
		{"static public", map[string]string{"public/index.html": "hi"}, "static", "", nil},
		{"static dist", map[string]string{"dist/index.html": "hi"}, "static", "", nil},
		{"index.html in another directory is no site", map[string]string{"docs/index.html": "hi"}, "", "", ErrUnknownStack},
		{"procfile wins over index.html", map[string]string{"Procfile": "web: ./run.sh\n", "index.html": "hi"}, "procfile", "", nil},
		{"python entry point wins over index.html", map[string]string{"app.py": "", "index.html": "hi"}, "python", "python3 app.py", nil},
		{"node start script wins over index.html", map[string]string{"package.json": `{"scripts":{"start":"node s.js"}}`, "public/index.html": "hi"},
			"node", "node s.js", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			st, err := Detect(dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if st.Name != tt.wantStack || st.Processes["web"] != tt.wantWeb {
				t.Fatalf("got %q web %q, want %q web %q", st.Name, st.Processes["web"], tt.wantStack, tt.wantWeb)
			}
		})
	}
}

func TestDetectBadPackageJSON(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "package.json"), []byte("{not json"), 0o644)
	if _, err := Detect(dir); err == nil {
		t.Fatal("got nil error for a malformed package.json")
	}
}

// writeTree writes files (slash-separated names) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A package.json build script is run, with devDependencies installed for
// it and pruned after; without one, only production dependencies are.
func TestDetectNodeBuildScript(t *testing.T) {
	tests := []struct {
		name      string
		pkg       string
		wantBuild bool
	}{
		{"build script", `{"scripts":{"build":"vite build"},"devDependencies":{"vite":"5"}}`, true},
		{"build script and start script", `{"scripts":{"build":"tsc","start":"node dist/server.js"}}`, true},
		{"no build script", `{"scripts":{"start":"node server.js"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Detect(writeTree(t, map[string]string{"package.json": tt.pkg}))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.HasPrefix(st.Deps.Script, "build=1\n"); got != tt.wantBuild {
				t.Fatalf("devDependencies installed: got %v, want %v", got, tt.wantBuild)
			}
			built := strings.Contains(st.Script, "npm run build") && strings.Contains(st.Script, "npm prune --omit=dev")
			if built != tt.wantBuild {
				t.Fatalf("build step: got %v, want %v:\n%s", built, tt.wantBuild, st.Script)
			}
		})
	}
}

// The dependency layer of a Python app is keyed by requirements.txt and the
// files it reads; one that installs the app's own code is not kept.
func TestDetectPythonDeps(t *testing.T) {
	tests := []struct {
		name      string
		reqs      string
		wantDeps  bool
		wantFiles []string
		wantEvery bool
	}{
		{"packages", "flask==3.0\n# a comment\n\nrequests  # inline\n", true, []string{"requirements.txt"}, false},
		{"comments only", "# nothing\n   \n", false, nil, false},
		{"included files", "-r base.txt\n--constraint=c.txt\nflask\n", true, []string{"requirements.txt", "base.txt", "c.txt"}, false},
		{"local wheel", "--no-index\n./wheels/x-1.0-py3-none-any.whl\n", true, []string{"requirements.txt", "./wheels/x-1.0-py3-none-any.whl"}, false},
		{"the app itself", "flask\n-e .\n", true, []string{"requirements.txt"}, true},
		{"a directory", "./lib/mypkg\n", true, []string{"requirements.txt"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Detect(writeTree(t, map[string]string{"requirements.txt": tt.reqs, "app.py": "x"}))
			if err != nil {
				t.Fatal(err)
			}
			if (st.Deps != nil) != tt.wantDeps {
				t.Fatalf("deps: got %+v, want %v", st.Deps, tt.wantDeps)
			}
			if st.Deps == nil {
				if st.Note == "" {
					t.Fatal("no note saying why nothing is installed")
				}
				return
			}
			if !slices.Equal(st.Deps.Files, tt.wantFiles) || st.Deps.Every != tt.wantEvery {
				t.Fatalf("got files %q every %v, want %q %v", st.Deps.Files, st.Deps.Every, tt.wantFiles, tt.wantEvery)
			}
		})
	}
}

// The dependency key follows the files the dependencies are read from, the
// base and the script, and nothing else in the source.
func TestDepsKey(t *testing.T) {
	files := map[string]string{"package.json": `{"dependencies":{"ms":"2.1.3"}}`, "server.js": "v1"}
	st, err := Detect(writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	key := func(files map[string]string, base string) string {
		k, ok := st.Deps.key(writeTree(t, files), base, "70001:70001")
		if !ok {
			t.Fatal("no key")
		}
		return k
	}
	k1 := key(files, "base:1")
	if k := key(map[string]string{"package.json": files["package.json"], "server.js": "v2"}, "base:1"); k != k1 {
		t.Error("a code change changed the key")
	}
	if k := key(files, "base:2"); k == k1 {
		t.Error("a new base kept the key")
	}
	if k := key(map[string]string{"package.json": files["package.json"], "package-lock.json": "{}"}, "base:1"); k == k1 {
		t.Error("a new lockfile kept the key")
	}
	dir := writeTree(t, files)
	os.Remove(filepath.Join(dir, "package.json"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "package.json"))
	if _, ok := st.Deps.key(dir, "base:1", "70001:70001"); ok {
		t.Error("a key was made of a link out of the source")
	}
}

// The directory a static site is served from: public/, else dist/, else
// the top, each only if it is a real directory with an index.html that is
// a file inside it.
func TestSiteDir(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "index.html"), []byte("elsewhere"), 0o644)
	tests := []struct {
		name   string
		files  map[string]string
		links  map[string]string // name -> link target
		want   string
		wantOK bool
	}{
		{"top", map[string]string{"index.html": "x"}, nil, ".", true},
		{"public first", map[string]string{"public/index.html": "x", "dist/index.html": "x", "index.html": "x"}, nil, "public", true},
		{"dist before the top", map[string]string{"dist/index.html": "x", "index.html": "x"}, nil, "dist", true},
		{"public without index.html", map[string]string{"public/app.css": "x", "dist/index.html": "x"}, nil, "dist", true},
		{"none", map[string]string{"README.md": "x", "src/index.html": "x"}, nil, "", false},
		{"index.html is a directory", map[string]string{"index.html/x": "x"}, nil, "", false},
		{"public is a link", map[string]string{"site/index.html": "x"}, map[string]string{"public": "site"}, "", false},
		{"dist is a link out", nil, map[string]string{"dist": outside}, "", false},
		{"index.html links out of the site", map[string]string{"public/a": "x"},
			map[string]string{"public/index.html": filepath.Join(outside, "index.html")}, "", false},
		{"index.html links up and out of the site", map[string]string{"README.html": "x", "public/a": "x"},
			map[string]string{"public/index.html": "../README.html"}, "", false},
		{"index.html links inside the site", map[string]string{"public/home.html": "x"},
			map[string]string{"public/index.html": "home.html"}, "public", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			for name, target := range tt.links {
				p := filepath.Join(dir, filepath.FromSlash(name))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.Symlink(target, p); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := siteDir(dir)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("got %q %v, want %q %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

package commands

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"pier/app"
)

// platform is an in-memory Platform that follows app.Service's contract for
// the sentinels.
type platform struct {
	mu      sync.Mutex
	apps    map[string]app.App
	keys    map[string]app.Key
	deploys []app.DeployRequest
	deploy  func(app.DeployRequest) error
	changes int
	calls   []string // commands beyond the spine: "Scale hello map[web:2]"
	events  []app.Event
	// touched are the apps the commands looked up or changed, in order;
	// "*" for a listing of every app.
	touched []string
	procs   map[string][]app.ProcessReport // what Report says runs, by app
	output  string                         // what Logs adds, as an app printed it
}

func newPlatform() *platform {
	return &platform{apps: map[string]app.App{}, keys: map[string]app.Key{}}
}

func (p *platform) CreateApp(_ context.Context, name string) (app.App, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.apps[name]; ok {
		return app.App{}, fmt.Errorf("create app %s: %w", name, app.ErrExists)
	}
	a := app.App{Name: name, CreatedAt: time.Now()}
	p.apps[name] = a
	p.changes++
	return a, nil
}

func (p *platform) StateOf(a app.App) app.AppState { return a.StateWith(a.Name == "crashy") }

func (p *platform) Apps(context.Context) ([]app.App, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.touched = append(p.touched, "*")
	var out []app.App
	for _, a := range p.apps {
		out = append(out, a)
	}
	return out, nil
}

func (p *platform) AddKey(_ context.Context, k app.Key) (app.Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.keys {
		if o.Name == k.Name || o.Fingerprint == k.Fingerprint {
			return app.Key{}, fmt.Errorf("add key %s: %w", k.Name, app.ErrExists)
		}
	}
	k.CreatedAt = time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)
	p.keys[k.Name] = k
	p.changes++
	return k, nil
}

func (p *platform) RemoveKey(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.keys[name]; !ok {
		return fmt.Errorf("remove key %s: %w", name, app.ErrNotFound)
	}
	delete(p.keys, name)
	p.changes++
	return nil
}

func (p *platform) Keys(context.Context) ([]app.Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []app.Key
	for _, k := range p.keys {
		out = append(out, k)
	}
	return out, nil
}

func (p *platform) Deploy(_ context.Context, req app.DeployRequest) (app.Release, error) {
	p.mu.Lock()
	p.deploys = append(p.deploys, req)
	p.changes++
	p.mu.Unlock()
	fmt.Fprintln(req.Out, "-----> Deploying", req.App)
	if p.deploy != nil {
		if err := p.deploy(req); err != nil {
			return app.Release{}, err
		}
	}
	return app.Release{App: req.App, Version: 1}, nil
}

func newTable(p *platform) *Table {
	return New(p, Info{Version: "1.2.3", URL: func(a string) string { return "http://" + a + ".example.test" }})
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *Table, user Identity, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := t.Run(context.Background(), Call{User: user, Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return result{code, out.String(), errb.String()}
}

var (
	alice = Identity{Name: "alice"}
	root  = Identity{Name: "root", Root: true}
)

func pubKey(t *testing.T) (line, fp string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))), gossh.FingerprintSHA256(k)
}

func TestHappyPaths(t *testing.T) {
	p := newPlatform()
	tb := newTable(p)
	line, fp := pubKey(t)

	steps := []struct {
		name       string
		stdin      string
		args       []string
		wantOut    []string // substrings of stdout
		wantNotOut []string
	}{
		{"help", "", []string{"help"}, []string{"apps:create NAME", "ssh-keys:add NAME", "apps:list [--format json]"}, []string{"receive"}},
		{"help cmd", "", []string{"help", "apps:create"}, []string{"usage: apps:create NAME", "example:\n  apps:create hello"}, nil},
		{"cmd --help", "", []string{"ssh-keys:add", "--help"}, []string{"usage: ssh-keys:add NAME [--app APP] < KEY.pub"}, nil},
		{"version", "", []string{"version"}, []string{"pier 1.2.3"}, nil},
		{"empty list", "", []string{"apps:list"}, []string{"no apps yet"}, nil},
		{"create", "", []string{"apps:create", "hello"}, []string{"created app hello", "http://hello.example.test"}, nil},
		{"list", "", []string{"apps:list"}, []string{"NAME", "hello", "-", "http://hello.example.test"}, nil},
		{"key add", "# my key\n" + line + " alice@laptop\n", []string{"ssh-keys:add", "alice"}, []string{fp + "\n"}, nil},
		{"key list", "", []string{"ssh-keys:list"}, []string{"alice", fp, "2025-03-04"}, nil},
		{"key remove", "", []string{"ssh-keys:remove", "alice"}, []string{"removed key alice"}, nil},
	}
	for _, s := range steps {
		r := run(tb, alice, s.stdin, s.args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", s.name, r.code, r.stderr)
		}
		for _, w := range s.wantOut {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s: stdout %q lacks %q", s.name, r.stdout, w)
			}
		}
		for _, w := range s.wantNotOut {
			if strings.Contains(r.stdout, w) {
				t.Errorf("%s: stdout %q contains %q", s.name, r.stdout, w)
			}
		}
	}
	if got := p.keys["alice"]; got.Name != "" {
		t.Errorf("key alice still stored: %+v", got)
	}
}

func TestStoredKeyForm(t *testing.T) {
	p := newPlatform()
	line, fp := pubKey(t)
	if r := run(newTable(p), root, `command="x" `+line+" comment\n", "ssh-keys:add", "bob"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	k := p.keys["bob"]
	if k.PublicKey != line || k.Fingerprint != fp {
		t.Errorf("stored %q %q, want %q %q", k.PublicKey, k.Fingerprint, line, fp)
	}
}

func TestJSON(t *testing.T) {
	p := newPlatform()
	p.apps["web"] = app.App{Name: "web", Release: 3}
	p.apps["api"] = app.App{Name: "api"}
	line, fp := pubKey(t)
	p.keys["alice"] = app.Key{Name: "alice", Fingerprint: fp, PublicKey: line}
	tb := newTable(p)

	for _, args := range [][]string{{"apps:list", "--format", "json"}, {"apps:list", "--format=json"}} {
		r := run(tb, alice, "", args...)
		var apps []struct {
			Name    string
			Release int
			URL     string
		}
		if err := json.Unmarshal([]byte(r.stdout), &apps); err != nil || r.code != 0 {
			t.Fatalf("%v: exit %d, %v in %q", args, r.code, err, r.stdout)
		}
		if len(apps) != 2 {
			t.Fatalf("got %d apps, want 2", len(apps))
		}
		for _, a := range apps {
			if a.URL != "http://"+a.Name+".example.test" {
				t.Errorf("url %q", a.URL)
			}
			if a.Name == "web" && a.Release != 3 {
				t.Errorf("web release %d, want 3", a.Release)
			}
		}
	}
	r := run(tb, alice, "", "apps:list")
	if !strings.Contains(r.stdout, "v3") {
		t.Errorf("text list %q lacks v3", r.stdout)
	}

	r = run(tb, alice, "", "ssh-keys:list", "--format", "json")
	var keys []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0]["fingerprint"] != fp || keys[0]["public_key"] != line {
		t.Errorf("keys json %v", keys)
	}

	p2 := newPlatform()
	if r := run(newTable(p2), alice, "", "apps:list", "--format", "json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty json list %q, want []", r.stdout)
	}
}

func TestBadUsage(t *testing.T) {
	line, _ := pubKey(t)
	two, _ := pubKey(t)
	tests := []struct {
		name      string
		user      Identity
		stdin     string
		args      []string
		wantUsage string // usage line expected on stderr
		wantErr   string
	}{
		{"create no name", alice, "", []string{"apps:create"}, "usage: apps:create NAME", ""},
		{"create two names", alice, "", []string{"apps:create", "a", "b"}, "usage: apps:create NAME", ""},
		{"create bad name", alice, "", []string{"apps:create", "Hello"}, "usage: apps:create NAME", `app name "Hello" is invalid`},
		{"create traversal", alice, "", []string{"apps:create", "../etc"}, "usage: apps:create NAME", "invalid"},
		{"list extra", alice, "", []string{"apps:list", "x"}, "usage: apps:list [--format json]", ""},
		{"list format", alice, "", []string{"apps:list", "--format", "yaml"}, "usage: apps:list", `unknown format "yaml"`},
		{"list format missing", alice, "", []string{"ssh-keys:list", "--format"}, "usage: ssh-keys:list", ""},
		{"version extra", alice, "", []string{"version", "x"}, "usage: version", ""},
		{"help extra", alice, "", []string{"help", "a", "b"}, "usage: help [COMMAND]", ""},
		{"key no name", alice, line, []string{"ssh-keys:add"}, "usage: ssh-keys:add", ""},
		{"key bad name", alice, line, []string{"ssh-keys:add", "a/b"}, "usage: ssh-keys:add", "key name"},
		{"key no stdin", alice, "", []string{"ssh-keys:add", "bob"}, "usage: ssh-keys:add", "no public key on stdin"},
		{"key garbage", alice, "-----BEGIN OPENSSH PRIVATE KEY-----\n", []string{"ssh-keys:add", "bob"}, "usage: ssh-keys:add", "not an SSH public key"},
		{"key two", alice, line + "\n" + two + "\n", []string{"ssh-keys:add", "bob"}, "usage: ssh-keys:add", "more than one"},
		{"remove no name", alice, "", []string{"ssh-keys:remove"}, "usage: ssh-keys:remove NAME", ""},
		{"receive few", root, "", []string{"receive", "hello"}, "usage: receive APP REV DIR PUSHER", ""},
		{"receive rev", root, "", []string{"receive", "hello", "--output=/x", "/tmp/d", "alice"}, "usage: receive", "not a full git object id"},
		{"receive dir", root, "", []string{"receive", "hello", strings.Repeat("a", 40), "rel", "alice"}, "usage: receive", "not an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			r := run(newTable(p), tt.user, tt.stdin, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if !strings.Contains(r.stderr, tt.wantUsage) || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q, want %q and %q", r.stderr, tt.wantUsage, tt.wantErr)
			}
			if p.changes != 0 {
				t.Errorf("%d changes made", p.changes)
			}
		})
	}
}

func TestUnknownAndHidden(t *testing.T) {
	p := newPlatform()
	tb := newTable(p)
	rev := strings.Repeat("ab", 20)
	for _, args := range [][]string{{"frobnicate"}, {"receive", "hello", rev, "/tmp/x", "alice"}} {
		r := run(tb, alice, "", args...)
		want := fmt.Sprintf("pier: unknown command %q; run \"help\" for the list\n", args[0])
		if r.code != 2 || r.stderr != want {
			t.Errorf("%v: exit %d stderr %q, want 2 %q", args, r.code, r.stderr, want)
		}
	}
	if len(p.deploys) != 0 {
		t.Errorf("non-root receive deployed: %+v", p.deploys)
	}
	if r := run(tb, alice, "", "help", "receive"); r.code != 2 || r.stderr != "pier: unknown command \"receive\"; run \"help\" for the list\n" {
		t.Errorf("help receive as non-root: exit %d %q", r.code, r.stderr)
	}
	if r := run(tb, root, "", "help"); strings.Contains(r.stdout, "receive") {
		t.Errorf("help lists receive for root: %q", r.stdout)
	}
	if r := run(tb, alice, ""); r.code != 2 || !strings.Contains(r.stderr, "apps:create") {
		t.Errorf("no args: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestReceive(t *testing.T) {
	p := newPlatform()
	tb := newTable(p)
	rev := strings.Repeat("0123456789", 4)
	dir := t.TempDir()
	r := run(tb, root, "", "receive", "hello", rev, dir, "alice")
	if r.code != 0 || r.stderr != "" || r.stdout != "-----> Deploying hello\n-----> http://hello.example.test\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	got := p.deploys[0]
	if got.App != "hello" || got.Commit != rev || got.Dir != dir || got.User != "alice" || got.Out == nil {
		t.Errorf("deploy request %+v", got)
	}

	p.deploy = func(app.DeployRequest) error { return fmt.Errorf("build: npm install failed") }
	r = run(tb, root, "", "receive", "hello", rev, dir, "alice")
	if r.code != 1 || r.stderr != "pier: deploy hello: build: npm install failed\n" {
		t.Errorf("failed deploy: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestErrorsReadWell(t *testing.T) {
	p := newPlatform()
	tb := newTable(p)
	line, _ := pubKey(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"app exists", "", []string{"apps:create", "taken"}, "pier: app \"taken\" already exists\n"},
		{"key missing", "", []string{"ssh-keys:remove", "nobody"}, "pier: key \"nobody\" does not exist\n"},
		{"key exists", line, []string{"ssh-keys:add", "alice"}, "pier: a key named \"alice\" or this same public key is already registered; see ssh-keys:list\n"},
	}
	run(tb, root, "", "apps:create", "taken")
	run(tb, root, line, "ssh-keys:add", "alice")
	for _, tt := range tests {
		r := run(tb, alice, tt.stdin, tt.args...)
		if r.code != 1 || r.stderr != tt.want {
			t.Errorf("%s: exit %d stderr %q, want 1 %q", tt.name, r.code, r.stderr, tt.want)
		}
	}
}

func TestNilStreams(t *testing.T) {
	tb := newTable(newPlatform())
	if code := tb.Run(context.Background(), Call{Args: []string{"ssh-keys:add", "x"}}); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if code := tb.Run(context.Background(), Call{Args: []string{"version"}, Stdout: io.Discard}); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// Dokku's names for pier's commands work; Dokku commands pier has no
// need of say what pier does; a near miss gets "did you mean".
func TestDokkuNames(t *testing.T) {
	p := newPlatform()
	tb := newTable(p)
	for alias, cmd := range dokkuAliases {
		r1, r2 := run(tb, root, "", "help", alias), run(tb, root, "", "help", cmd)
		if r1.code != 0 || r1.stdout != r2.stdout {
			t.Errorf("help %s: exit %d %q, want help %s's %q", alias, r1.code, r1.stdout, cmd, r2.stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"letsencrypt:enable", "hello"}, `pier: pier has no "letsencrypt:enable": certificates are automatic in pier`},
		{[]string{"nginx:build-config", "hello"}, `pier: pier has no "nginx:build-config": pier has no nginx`},
		{[]string{"proxy:ports-add", "hello", "http:80:5000"}, `pier: pier has no "proxy:ports-add": pier's router serves every app`},
		{[]string{"apps:lst"}, `pier: unknown command "apps:lst"; did you mean "apps:list"? run "help" for the list`},
		{[]string{"cofig:set", "hello", "A=1"}, `pier: unknown command "cofig:set"; did you mean "config:set"?`},
	} {
		r := run(tb, root, "", tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := run(tb, root, "", "apps:info"); r.code != 2 || !strings.Contains(r.stderr, "usage: apps:report") {
		t.Errorf("apps:info without an app: exit %d %q", r.code, r.stderr)
	}
}

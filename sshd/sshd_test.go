package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"pier/app"
	"pier/sshd/commands"
)

const hookEnv = "PIER_SSHD_TEST_HOOK"

// TestMain doubles as the pre-receive hook: the server under test writes
// hooks that run this test binary as "<binary> hook pre-receive".
func TestMain(m *testing.M) {
	if os.Getenv(hookEnv) == "1" && len(os.Args) == 3 && os.Args[1] == "hook" && os.Args[2] == "pre-receive" {
		os.Exit(PreReceive(context.Background(), os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	os.Setenv(hookEnv, "1")
	os.Exit(m.Run())
}

// needBinaries skips the test when a program is missing, except in CI.
func needBinaries(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI: %v", n, err)
			}
			t.Skipf("%s not installed", n)
		}
	}
}

// keys is a Keys fake: fingerprint to key.
type keys struct {
	mu sync.Mutex
	m  map[string]app.Key
}

func (k *keys) KeyByFingerprint(_ context.Context, fp string) (app.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.m[fp]
	if !ok {
		return app.Key{}, app.ErrNotFound
	}
	return key, nil
}

func (k *keys) add(name string, pub gossh.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]app.Key{}
	}
	k.m[gossh.FingerprintSHA256(pub)] = app.Key{Name: name, Fingerprint: gossh.FingerprintSHA256(pub)}
}

// record is what the Commands fake saw of one call.
type record struct {
	Name string
	Root bool
	Args []string
	TTY  *app.Terminal `json:",omitempty"`
}

// cmds is a Commands fake. "record" prints the call as JSON; "cat" copies
// stdin to stdout; "exit N" writes to stderr and exits N; "receive" is
// handed to the receive field.
type cmds struct {
	mu      sync.Mutex
	calls   []record
	receive func(c commands.Call) int
}

func (f *cmds) Run(_ context.Context, c commands.Call) int {
	r := record{c.User.Name, c.User.Root, c.Args, nil}
	if c.TTY != nil {
		r.TTY = &app.Terminal{Term: c.TTY.Term, Size: c.TTY.Size}
	}
	f.mu.Lock()
	f.calls = append(f.calls, r)
	receive := f.receive
	f.mu.Unlock()
	switch c.Args[0] {
	case "record":
		json.NewEncoder(c.Stdout).Encode(r)
		return 0
	case "cat":
		io.Copy(c.Stdout, c.Stdin)
		return 0
	case "exit":
		n, _ := strconv.Atoi(c.Args[1])
		fmt.Fprintln(c.Stderr, "bye")
		return n
	case "receive":
		if receive != nil {
			return receive(c)
		}
	}
	fmt.Fprintln(c.Stderr, "unknown")
	return 2
}

func (f *cmds) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type testServer struct {
	*Server
	addr   string // TCP host:port
	port   string
	socket string
}

// start runs a Server on 127.0.0.1:0 and a socket in a short temp dir
// (unix socket paths are limited to ~108 bytes) until the test ends.
func start(t *testing.T, k Keys, c Commands, tune ...func(*Config)) *testServer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "pier")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	dir := t.TempDir()
	// Under an emulator (qemu-user, running the linux/arm64 build on
	// another machine), the hook runs this binary through it too.
	if emu := os.Getenv("PIER_TEST_EMULATOR"); emu != "" {
		wrapper := filepath.Join(dir, "pier-emulated")
		if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+shellQuote(emu)+" "+shellQuote(exe)+" \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		exe = wrapper
	}
	cfg := Config{
		Addr:        "127.0.0.1:0",
		HostKeyPath: filepath.Join(dir, "keys", "host_ed25519"),
		SocketPath:  filepath.Join(sockDir, "run", "pier.sock"),
		GitDir:      filepath.Join(dir, "git"),
		Binary:      exe,
	}
	for _, f := range tune {
		f(&cfg)
	}
	s, err := New(cfg, k, c)
	if err != nil {
		t.Fatal(err)
	}
	tcp, unix, err := s.listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, tcp, unix) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(tcp.Addr().String())
	return &testServer{Server: s, addr: tcp.Addr().String(), port: port, socket: s.cfg.SocketPath}
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sshRun runs cmd over TCP with the x/crypto client; setup may prepare the
// session (e.g. request a PTY). cmd "" asks for a shell.
func sshRun(t *testing.T, addr string, auth []gossh.AuthMethod, cmd string, setup func(*gossh.Session)) (stdout, stderr string, code int) {
	t.Helper()
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: "pier", Auth: auth, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	if setup != nil {
		setup(sess)
	}
	if cmd == "" {
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
		err = sess.Wait()
	} else {
		err = sess.Run(cmd)
	}
	var exit *gossh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitStatus()
	default:
		t.Fatalf("run %q: %v", cmd, err)
	}
	return out.String(), errb.String(), code
}

func TestCommandLineRoundTrip(t *testing.T) {
	tests := [][]string{
		{"apps:list"},
		{"record", "a b", "it's", "", `"q"`, `back\slash`, "uni ☃", "new\nline", "$HOME", "'", "''", " "},
		{""},
	}
	for _, args := range tests {
		got, err := splitCommand(commandLine(args))
		if err != nil || !slices.Equal(got, args) {
			t.Errorf("split(%q) = %q, %v; want %q", commandLine(args), got, err, args)
		}
	}
	shell := []struct {
		line string
		want []string
	}{
		{"git-receive-pack '/hello.git'", []string{"git-receive-pack", "/hello.git"}},
		{`  a   "b c" d\ e "x\"y\\z" 'p'"q"r  `, []string{"a", "b c", "d e", `x"y\z`, "pqr"}},
		{"a \\\nb", []string{"a", "b"}},
		{"", nil},
	}
	for _, tt := range shell {
		if got, err := splitCommand(tt.line); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("split(%q) = %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
	for _, bad := range []string{"'open", `"open`, `a "b\"`} {
		if _, err := splitCommand(bad); err == nil {
			t.Errorf("split(%q): no error", bad)
		}
	}
}

func TestExec(t *testing.T) {
	f := &cmds{}
	s := start(t, &keys{}, f)
	ctx := context.Background()

	args := []string{"record", "a b", "it's", "", `"q"`, `back\slash`, "new\nline", "$HOME"}
	var out, errb bytes.Buffer
	code, err := Exec(ctx, s.socket, args, nil, &out, &errb)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v, stderr %q", code, err, errb.String())
	}
	var got record
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if want := (record{Name: "root", Root: true, Args: args}); !slices.Equal(got.Args, want.Args) || got.Name != want.Name || !got.Root {
		t.Errorf("got %+v, want %+v", got, want)
	}

	out.Reset()
	if code, err := Exec(ctx, s.socket, []string{"cat"}, strings.NewReader("hello\nworld\n"), &out, nil); err != nil || code != 0 || out.String() != "hello\nworld\n" {
		t.Errorf("cat: exit %d, %v, stdout %q", code, err, out.String())
	}
	out.Reset()
	if code, err := Exec(ctx, s.socket, []string{"cat"}, nil, &out, nil); err != nil || code != 0 || out.Len() != 0 {
		t.Errorf("cat with nil stdin: exit %d, %v, stdout %q", code, err, out.String())
	}

	errb.Reset()
	if code, err := Exec(ctx, s.socket, []string{"exit", "3"}, nil, nil, &errb); err != nil || code != 3 || errb.String() != "bye\n" {
		t.Errorf("exit: code %d, %v, stderr %q", code, err, errb.String())
	}

	// A stdin that never ends (a terminal) must not keep Exec from returning.
	pr, pw := io.Pipe()
	defer pw.Close()
	returned := make(chan int, 1)
	go func() {
		code, _ := Exec(ctx, s.socket, []string{"record"}, pr, io.Discard, io.Discard)
		returned <- code
	}()
	select {
	case code := <-returned:
		if code != 0 {
			t.Errorf("record with open stdin: exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Exec hung on an open stdin")
	}
}

func TestExecNoDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.sock")
	_, err := Exec(context.Background(), path, []string{"help"}, nil, nil, nil)
	want := fmt.Sprintf("pier daemon is not running (no socket at %s)", path)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestSocketFiles(t *testing.T) {
	s := start(t, &keys{}, &cmds{})
	fi, err := os.Lstat(s.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want socket 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(s.socket))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v, want 0700", di.Mode().Perm())
	}

	// A second daemon must not steal a live socket.
	other := &Server{cfg: s.cfg}
	if _, _, err := other.listen(); err == nil || !strings.Contains(err.Error(), "another pier daemon") {
		t.Errorf("second listen: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	dir, err := os.MkdirTemp("", "pier")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pier.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if err := removeStaleSocket(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale socket still there: %v", err)
	}
	os.WriteFile(path, nil, 0o600)
	if err := removeStaleSocket(path); err == nil {
		t.Error("replaced a regular file")
	}
}

func TestHostKeyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "host")
	cfg := Config{HostKeyPath: path, SocketPath: "/x", GitDir: "/x", Binary: "/x"}
	a, err := New(cfg, &keys{}, &cmds{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, &keys{}, &cmds{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.signer.PublicKey().Marshal(), b.signer.PublicKey().Marshal()) {
		t.Error("host key changed between starts")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %v, %v; want 0600", fi.Mode(), err)
	}
	if a.signer.PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Errorf("host key type %s", a.signer.PublicKey().Type())
	}
}

func TestConfigValidation(t *testing.T) {
	dir := t.TempDir()
	good := Config{HostKeyPath: filepath.Join(dir, "k"), SocketPath: "/s", GitDir: "/g", Binary: "/usr/bin/pier"}
	for name, mutate := range map[string]func(*Config){
		"no host key":     func(c *Config) { c.HostKeyPath = "" },
		"no socket":       func(c *Config) { c.SocketPath = "" },
		"no git dir":      func(c *Config) { c.GitDir = "" },
		"relative binary": func(c *Config) { c.Binary = "pier" },
	} {
		c := good
		mutate(&c)
		if _, err := New(c, &keys{}, &cmds{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTCPIdentity(t *testing.T) {
	alice, stranger := newSigner(t), newSigner(t)
	k := &keys{}
	k.add("alice", alice.PublicKey())
	f := &cmds{}
	s := start(t, k, f)

	out, errOut, code := sshRun(t, s.addr, []gossh.AuthMethod{gossh.PublicKeys(alice)}, "record x 'y z'", nil)
	var got record
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got.Name != "alice" || got.Root || !slices.Equal(got.Args, []string{"record", "x", "y z"}) {
		t.Errorf("got %+v", got)
	}

	calls := f.count()
	_, errOut, code = sshRun(t, s.addr, []gossh.AuthMethod{gossh.PublicKeys(stranger)}, "record", nil)
	want := fmt.Sprintf("pier: this key (%s) is not registered with pier. On the server run: pier ssh-keys:add NAME < key.pub\n",
		gossh.FingerprintSHA256(stranger.PublicKey()))
	if code != 1 || errOut != want {
		t.Errorf("unknown key: exit %d stderr %q, want 1 %q", code, errOut, want)
	}

	if f.count() != calls {
		t.Errorf("unregistered keys ran commands: %+v", f.calls[calls:])
	}
}

// TestUnprovenKeyNotAttributed replays the CVE-2024-45337 sequence with the
// real ssh client: it offers the stranger's key (accepted, then not signed:
// the "identity" is a bare .pub), then alice's key, which it cannot sign
// either, then proves the stranger's key. The last key the server's callback
// saw before the signature is alice's; the session must be the stranger's.
// (x/crypto >= 0.31 also re-runs the callback here, as its key cache holds
// one entry; reading Permissions does not depend on that.)
func TestUnprovenKeyNotAttributed(t *testing.T) {
	needBinaries(t, "ssh")
	_, alicePub := writeKeyFile(t)
	strangerFile, strangerPub := writeKeyFile(t)
	k := &keys{}
	k.add("alice", alicePub)
	f := &cmds{}
	s := start(t, k, f)
	dir := t.TempDir()
	pubFile := func(name string, pub gossh.PublicKey) string {
		p := filepath.Join(dir, name+".pub")
		if err := os.WriteFile(p, gossh.MarshalAuthorizedKey(pub), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cmd := exec.Command("ssh", "-i", pubFile("stranger", strangerPub), "-i", pubFile("alice", alicePub), "-i", strangerFile,
		"-p", s.port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-F", "/dev/null",
		"pier@127.0.0.1", "record")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	want := fmt.Sprintf("pier: this key (%s) is not registered with pier.", gossh.FingerprintSHA256(strangerPub))
	if !strings.Contains(stderr.String(), want) || stdout.Len() != 0 {
		t.Errorf("ssh: %v\nstdout %q\nstderr %q\nwant stderr containing %q", err, stdout.String(), stderr.String(), want)
	}
	if f.count() != 0 {
		t.Errorf("commands ran as %+v", f.calls)
	}
}

func TestNoneAuthRefused(t *testing.T) {
	f := &cmds{}
	s := start(t, &keys{}, f)
	prompted := false
	for name, auth := range map[string][]gossh.AuthMethod{
		"none": nil,
		"keyboard-interactive": {gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
			prompted = true
			return nil, nil
		})},
		"password": {gossh.Password("x")},
	} {
		client, err := gossh.Dial("tcp", s.addr, &gossh.ClientConfig{User: "pier", Auth: auth, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
		if err == nil {
			client.Close()
			t.Errorf("%s auth accepted", name)
		}
	}
	if prompted {
		t.Error("keyboard-interactive prompted")
	}
	if f.count() != 0 {
		t.Errorf("commands ran: %+v", f.calls)
	}
}

func TestInteractiveRefused(t *testing.T) {
	alice := newSigner(t)
	k := &keys{}
	k.add("alice", alice.PublicKey())
	f := &cmds{}
	s := start(t, k, f)
	auth := []gossh.AuthMethod{gossh.PublicKeys(alice)}
	pty := func(sess *gossh.Session) {
		if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name  string
		cmd   string
		setup func(*gossh.Session)
	}{
		{"pty shell", "", pty},
		{"shell", "", nil},
		{"blank command", "   ", nil},
	} {
		_, errOut, code := sshRun(t, s.addr, auth, tt.cmd, tt.setup)
		if code != 1 || !strings.Contains(errOut, interactiveRefused) {
			t.Errorf("%s: exit %d stderr %q", tt.name, code, errOut)
		}
	}
	if f.count() != 0 {
		t.Errorf("commands ran: %+v", f.calls)
	}
}

// ssh -t with a command hands the command the client's terminal; its
// window changes follow.
func TestTerminalCommand(t *testing.T) {
	alice := newSigner(t)
	k := &keys{}
	k.add("alice", alice.PublicKey())
	f := &cmds{}
	s := start(t, k, f)
	out, errOut, code := sshRun(t, s.addr, []gossh.AuthMethod{gossh.PublicKeys(alice)}, "record", func(sess *gossh.Session) {
		if err := sess.RequestPty("vt220", 24, 80, gossh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
	})
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var r record
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if r.TTY == nil || r.TTY.Term != "vt220" || r.TTY.Size != (app.WindowSize{Width: 80, Height: 24}) {
		t.Fatalf("terminal: %+v", r.TTY)
	}
}

func TestInvalidRepoNames(t *testing.T) {
	alice := newSigner(t)
	k := &keys{}
	k.add("alice", alice.PublicKey())
	s := start(t, k, &cmds{})
	auth := []gossh.AuthMethod{gossh.PublicKeys(alice)}
	for _, name := range []string{"../etc", "Hello", "a/b", "x.git/..", "/", "", "/../../etc/passwd.git", "-rf"} {
		for _, svc := range []string{"git-receive-pack", "git-upload-pack"} {
			_, errOut, code := sshRun(t, s.addr, auth, svc+" "+shellQuote(name), nil)
			if code != 1 || !strings.HasPrefix(errOut, "pier: app name") {
				t.Errorf("%s %q: exit %d stderr %q", svc, name, code, errOut)
			}
		}
	}
	if entries, _ := os.ReadDir(s.cfg.GitDir); len(entries) != 0 {
		t.Errorf("git dir has %d entries", len(entries))
	}
	_, errOut, code := sshRun(t, s.addr, auth, "git-upload-pack '/nothere.git'", nil)
	if code != 1 || errOut != "pier: app \"nothere\" has no repository\n" {
		t.Errorf("fetch of missing repo: exit %d stderr %q", code, errOut)
	}
}

// gitEnv runs git in a clean environment that talks to s with key.
func gitEnv(t *testing.T, s *testServer, keyFile string) []string {
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test",
		"GIT_SSH_COMMAND=ssh -i "+keyFile+" -p "+s.port+
			" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR",
	)
}

func gitCmd(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := gitCmd(t, dir, env, args...)
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(out)
}

func writeKeyFile(t *testing.T) (string, gossh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return path, signer.PublicKey()
}

// received is what the Commands fake saw of one "receive" call, including
// the exported tree at that moment.
type received struct {
	user  commands.Identity
	args  []string
	files map[string]string
}

func TestGitPush(t *testing.T) {
	needBinaries(t, "git", "ssh", "tar")
	tmp := t.TempDir()
	t.Setenv("PIER_TMP", tmp) // inherited by git receive-pack and the hook

	keyFile, pub := writeKeyFile(t)
	k := &keys{}
	k.add("alice", pub)
	var (
		mu       sync.Mutex
		got      []received
		exitCode int
	)
	f := &cmds{receive: func(c commands.Call) int {
		files := map[string]string{}
		dir := c.Args[3]
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				files[rel] = string(b)
			}
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		got = append(got, received{c.User, c.Args, files})
		if exitCode != 0 {
			fmt.Fprintln(c.Stderr, "build failed: no start command")
			return exitCode
		}
		fmt.Fprintln(c.Stdout, "-----> Deploying", c.Args[1])
		return 0
	}}
	s := start(t, k, f)
	env := gitEnv(t, s, keyFile)
	remote := "ssh://pier@127.0.0.1:" + s.port + "/hello"
	bare := filepath.Join(s.cfg.GitDir, "hello.git")

	work := t.TempDir()
	mustGit(t, work, env, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(work, "app.py"), []byte("print('hi')\n"), 0o644)
	os.MkdirAll(filepath.Join(work, "static"), 0o755)
	os.WriteFile(filepath.Join(work, "static", "index.html"), []byte("<h1>hi</h1>\n"), 0o644)
	mustGit(t, work, env, "add", ".")
	mustGit(t, work, env, "commit", "-q", "-m", "first")
	rev1 := mustGit(t, work, env, "rev-parse", "HEAD")

	t.Run("deploy", func(t *testing.T) {
		out, err := gitCmd(t, work, env, "push", remote, "main")
		if err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		if !strings.Contains(out, "remote: -----> Deploying hello") {
			t.Errorf("push output lacks the deploy line:\n%s", out)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("%d receive calls, want 1", len(got))
		}
		r := got[0]
		if !r.user.Root || len(r.args) != 5 || r.args[1] != "hello" || r.args[2] != rev1 || r.args[4] != "alice" {
			t.Errorf("receive call %+v %q, want root receive hello %s DIR alice", r.user, r.args, rev1)
		}
		dir := r.args[3]
		if filepath.Dir(dir) != tmp {
			t.Errorf("export dir %s not under PIER_TMP %s", dir, tmp)
		}
		want := map[string]string{"app.py": "print('hi')\n", filepath.Join("static", "index.html"): "<h1>hi</h1>\n"}
		if fmt.Sprint(r.files) != fmt.Sprint(want) {
			t.Errorf("exported tree %v, want %v", r.files, want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("export dir not removed: %v", err)
		}
		if ref := mustGit(t, "", env, "--git-dir", bare, "rev-parse", "refs/heads/main"); ref != rev1 {
			t.Errorf("server main = %s, want %s", ref, rev1)
		}
		hook, _ := os.ReadFile(filepath.Join(bare, "hooks", "pre-receive"))
		if want := "#!/bin/sh\nexec " + shellQuote(s.cfg.Binary) + " hook pre-receive\n"; string(hook) != want {
			t.Errorf("hook %q, want %q", hook, want)
		}
	})

	t.Run("failed deploy rejects the push", func(t *testing.T) {
		mu.Lock()
		exitCode = 1
		mu.Unlock()
		defer func() { mu.Lock(); exitCode = 0; mu.Unlock() }()
		os.WriteFile(filepath.Join(work, "app.py"), []byte("broken\n"), 0o644)
		mustGit(t, work, env, "commit", "-q", "-am", "second")
		out, err := gitCmd(t, work, env, "push", remote, "main")
		if err == nil {
			t.Fatalf("push succeeded:\n%s", out)
		}
		if !strings.Contains(out, "remote: build failed: no start command") || !strings.Contains(out, "pre-receive hook declined") {
			t.Errorf("push output:\n%s", out)
		}
		if ref := mustGit(t, "", env, "--git-dir", bare, "rev-parse", "refs/heads/main"); ref != rev1 {
			t.Errorf("server main moved to %s, want %s", ref, rev1)
		}
	})

	t.Run("deleting main is refused", func(t *testing.T) {
		out, err := gitCmd(t, work, env, "push", remote, ":main")
		if err == nil || !strings.Contains(out, "remote: pier: deleting the deploy branch is not supported") {
			t.Errorf("delete main: %v\n%s", err, out)
		}
		if ref := mustGit(t, "", env, "--git-dir", bare, "rev-parse", "refs/heads/main"); ref != rev1 {
			t.Errorf("server main = %s, want %s", ref, rev1)
		}
	})

	t.Run("other branches are stored", func(t *testing.T) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		out, err := gitCmd(t, work, env, "push", remote, "HEAD:feature")
		if err != nil || !strings.Contains(out, "remote: pier: branch feature stored; pier deploys main or master") {
			t.Errorf("push feature: %v\n%s", err, out)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != n {
			t.Errorf("feature push deployed: %+v", got[n:])
		}
	})

	t.Run("clone", func(t *testing.T) {
		clone := filepath.Join(t.TempDir(), "c")
		// The client's GIT_PROTOCOL must reach upload-pack for v2.
		trace := append(slices.Clip(env), "GIT_TRACE_PACKET=1")
		out := mustGit(t, "", trace, "-c", "protocol.version=2", "clone", "-q", remote, clone)
		if !strings.Contains(out, "version 2") {
			t.Errorf("clone did not speak protocol v2:\n%s", out)
		}
		if head := mustGit(t, clone, env, "rev-parse", "HEAD"); head != rev1 {
			t.Errorf("cloned HEAD %s, want %s", head, rev1)
		}
	})
}

func TestPreReceiveNeedsDaemon(t *testing.T) {
	var errb bytes.Buffer
	code := PreReceive(context.Background(), strings.NewReader(""), io.Discard, &errb, func(string) string { return "" })
	if code != 1 || !strings.Contains(errb.String(), "PIER_APP") {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

// A push is bounded twice: the pack it sends (git's receive.maxInputSize,
// MaxPush) and the files of the revision it deploys, unpacked (4 times
// MaxPush), which a small pack of repeated bytes can make huge. Either
// rejects the push before anything is deployed or stored.
func TestPushSizeLimits(t *testing.T) {
	needBinaries(t, "git", "ssh", "tar")
	t.Setenv("PIER_TMP", t.TempDir())
	keyFile, pub := writeKeyFile(t)
	k := &keys{}
	k.add("alice", pub)
	var received atomic.Int32
	f := &cmds{receive: func(c commands.Call) int { received.Add(1); return 0 }}
	s := start(t, k, f, func(c *Config) { c.MaxPush = 256 << 10 })
	env := gitEnv(t, s, keyFile)
	remote := "ssh://pier@127.0.0.1:" + s.port + "/hello"
	bare := filepath.Join(s.cfg.GitDir, "hello.git")

	push := func(name string, body []byte) string {
		t.Helper()
		work := t.TempDir()
		mustGit(t, work, env, "init", "-q", "-b", "main")
		if err := os.WriteFile(filepath.Join(work, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
		mustGit(t, work, env, "add", ".")
		mustGit(t, work, env, "commit", "-q", "-m", name)
		out, err := gitCmd(t, work, env, "push", remote, "main")
		if err == nil {
			t.Fatalf("push of %s succeeded:\n%s", name, out)
		}
		return out
	}
	random := make([]byte, 1<<20)
	rand.Read(random)
	if out := push("random.bin", random); !strings.Contains(out, "pier: this push sends more than 256 KiB, the limit") {
		t.Errorf("a 1 MiB pack over a 256 KiB limit:\n%s", out)
	}
	if out := push("zeros.bin", make([]byte, 8<<20)); !strings.Contains(out, "holds more than 1 MiB or 200000 files") {
		t.Errorf("8 MiB of zeros (a small pack) over a 1 MiB tree limit:\n%s", out)
	}
	if n := received.Load(); n != 0 {
		t.Errorf("%d deploys of pushes over the limits", n)
	}
	if out, err := gitCmd(t, "", env, "--git-dir", bare, "rev-parse", "--verify", "-q", "refs/heads/main"); err == nil {
		t.Errorf("a push over the limits was stored: %s", out)
	}
}

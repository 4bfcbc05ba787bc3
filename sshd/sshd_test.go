package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
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

// add registers pub as an admin key.
func (k *keys) add(name string, pub gossh.PublicKey) { k.addFor(name, "", pub) }

// addFor registers pub as a key limited to appName ("" for an admin key).
func (k *keys) addFor(name, appName string, pub gossh.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]app.Key{}
	}
	k.m[gossh.FingerprintSHA256(pub)] = app.Key{Name: name, Fingerprint: gossh.FingerprintSHA256(pub), App: appName}
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

func TestPreReceiveNeedsDaemon(t *testing.T) {
	var errb bytes.Buffer
	code := PreReceive(context.Background(), strings.NewReader(""), io.Discard, &errb, func(string) string { return "" })
	if code != 1 || !strings.Contains(errb.String(), "PIER_APP") {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

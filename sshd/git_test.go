package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"pier/sshd/commands"
)

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

// A key limited to one app cannot push to another: the push is refused
// before git runs, so no repository of the other app is created and nothing
// is deployed; the same key still pushes to its own app.
func TestAppKeyPushesToItsAppOnly(t *testing.T) {
	needBinaries(t, "git", "ssh", "tar")
	t.Setenv("PIER_TMP", t.TempDir())
	keyFile, pub := writeKeyFile(t)
	k := &keys{}
	k.addFor("ci", "hello", pub)
	var (
		mu       sync.Mutex
		deployed []string
	)
	f := &cmds{receive: func(c commands.Call) int {
		mu.Lock()
		defer mu.Unlock()
		deployed = append(deployed, c.Args[1])
		return 0
	}}
	s := start(t, k, f)
	env := gitEnv(t, s, keyFile)

	work := t.TempDir()
	mustGit(t, work, env, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(work, "app.py"), []byte("print('hi')\n"), 0o644)
	mustGit(t, work, env, "add", ".")
	mustGit(t, work, env, "commit", "-q", "-m", "first")

	out, err := gitCmd(t, work, env, "push", "ssh://pier@127.0.0.1:"+s.port+"/world", "main")
	if err == nil {
		t.Errorf("push to world with a key of hello succeeded:\n%s", out)
	}
	if !strings.Contains(out, "pier: this key may only push to and read hello") {
		t.Errorf("push to world output lacks the refusal:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.GitDir, "world.git")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("world.git after a refused push: %v, want it absent", err)
	}

	if out, err := gitCmd(t, work, env, "push", "ssh://pier@127.0.0.1:"+s.port+"/hello", "main"); err != nil {
		t.Fatalf("push to hello: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(deployed, []string{"hello"}) {
		t.Errorf("deployed %q, want hello only", deployed)
	}
}

// checkTreeSize refuses a revision of more than maxSourceFiles files even
// when they add up to no bytes at all.
func TestCheckTreeSizeBoundsFiles(t *testing.T) {
	needBinaries(t, "git")
	defer func(n int64) { maxSourceFiles = n }(maxSourceFiles)
	maxSourceFiles = 10

	work := t.TempDir()
	env := append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
	mustGit(t, work, env, "init", "-q", "-b", "main")
	commit := func(n int) string {
		t.Helper()
		for i := range n {
			if err := os.WriteFile(filepath.Join(work, fmt.Sprintf("f%02d", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		mustGit(t, work, env, "add", ".")
		mustGit(t, work, env, "commit", "-q", "-m", fmt.Sprint(n, " files"))
		return mustGit(t, work, env, "rev-parse", "HEAD")
	}
	atLimit := commit(int(maxSourceFiles))
	overLimit := commit(int(maxSourceFiles) + 1)

	t.Chdir(work) // the hook runs in the repository
	ctx := t.Context()
	if err := checkTreeSize(ctx, atLimit, "1048576"); err != nil {
		t.Errorf("%d files: %v, want no error", maxSourceFiles, err)
	}
	err := checkTreeSize(ctx, overLimit, "1048576")
	if err == nil || !strings.Contains(err.Error(), "or 10 files") {
		t.Errorf("%d empty files: got %v, want the error naming the bound of 10 files", maxSourceFiles+1, err)
	}
}

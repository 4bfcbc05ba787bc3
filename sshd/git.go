package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/google/renameio/v2"

	"pier/app"
	"pier/appdirs"
	"pier/sshd/commands"
)

// gitWaitDelay bounds how long a git process's pipes may stay open after it
// exits or its session is cancelled (os/exec WaitDelay).
const gitWaitDelay = 5 * time.Second

// git serves "git-receive-pack APP" (push; creates the repository) and
// "git-upload-pack APP" (fetch; the repository must exist). It returns the
// exit code for the session.
func (s *Server) git(ctx context.Context, sess ssh.Session, id commands.Identity, args []string) int {
	if len(args) != 2 {
		fmt.Fprintf(sess.Stderr(), "pier: usage: %s APP\n", args[0])
		return 2
	}
	name, err := repoName(args[1])
	if err != nil {
		fmt.Fprintf(sess.Stderr(), "pier: %v\n", err)
		return 1
	}
	if id.App != "" && id.App != name {
		fmt.Fprintf(sess.Stderr(), "pier: this key may only push to and read %s\n", id.App)
		return 1
	}
	repo := appdirs.Dirs{Dir: s.cfg.GitDir, Suffix: ".git"}.Path(name)
	env := os.Environ()
	if v, ok := sessionEnv(sess, "GIT_PROTOCOL"); ok {
		env = append(env, "GIT_PROTOCOL="+v)
	}

	service := "receive-pack"
	if args[0] == "git-upload-pack" {
		service = "upload-pack"
		if _, err := os.Stat(repo); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(sess.Stderr(), "pier: app %q has no repository\n", name)
			return 1
		}
	} else {
		if err := s.ensureRepo(ctx, repo); err != nil {
			s.log.Error("prepare repository", "app", name, "err", err)
			fmt.Fprintf(sess.Stderr(), "pier: cannot prepare the repository of %q; see the server log\n", name)
			return 1
		}
		env = append(env, "PIER_APP="+name, "PIER_USER="+id.Name, "PIER_SOCKET="+s.cfg.SocketPath,
			fmt.Sprintf("PIER_MAX_SOURCE=%d", 4*s.cfg.MaxPush))
	}
	return s.runGit(ctx, sess, service, repo, env)
}

// repoName turns the path a git client asks for ("/hello.git", "hello")
// into an app name, through app.ValidName.
func repoName(path string) (string, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(path, "/"), ".git")
	if err := app.ValidName(name); err != nil {
		return "", err
	}
	return name, nil
}

func sessionEnv(sess ssh.Session, key string) (string, bool) {
	for _, kv := range sess.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// runGit runs "git <service> <repo>" wired to the session and returns its
// exit code once the process has exited and all its output has been copied
// to the client.
func (s *Server) runGit(ctx context.Context, sess ssh.Session, service, repo string, env []string) int {
	args := []string{service, repo}
	if service == "receive-pack" {
		// git refuses a larger pack itself, and keeps nothing of it.
		args = []string{"-c", fmt.Sprintf("receive.maxInputSize=%d", s.cfg.MaxPush), service, repo}
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = env
	// git says so in the protocol stream, and exits 0.
	tooLarge := &watchWriter{w: sess, needle: []byte("pack exceeds maximum allowed size")}
	cmd.Stdout = tooLarge
	cmd.Stderr = sess.Stderr()
	cmd.WaitDelay = gitWaitDelay
	// Our own stdin copy: Wait must not wait for the client to close its
	// side, which it may only do after seeing the exit status.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		s.log.Error("git stdin", "err", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		s.log.Error("start git", "service", service, "err", err)
		fmt.Fprintf(sess.Stderr(), "pier: cannot run git %s\n", service)
		return 1
	}
	go func() {
		io.Copy(stdin, sess)
		stdin.Close()
	}()
	err = cmd.Wait()
	if tooLarge.seen.Load() {
		fmt.Fprintf(sess.Stderr(), "pier: this push sends more than %s, the limit (pier serve --max-push sets it); nothing was changed\n", sizeText(s.cfg.MaxPush))
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		if ctx.Err() == nil {
			s.log.Error("git", "service", service, "repo", repo, "err", err)
		}
		return 1
	}
}

// ensureRepo creates the bare repository if needed and (re)writes its
// pre-receive hook, so a moved Binary takes effect on the next push.
func (s *Server) ensureRepo(ctx context.Context, repo string) error {
	if _, err := os.Stat(filepath.Join(repo, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(s.cfg.GitDir, 0o700); err != nil {
			return err
		}
		out, err := exec.CommandContext(ctx, "git", "init", "--bare", "-q", "--initial-branch=main", repo).CombinedOutput()
		if err != nil {
			return fmt.Errorf("git init %s: %w: %s", repo, err, strings.TrimSpace(string(out)))
		}
	} else if err != nil {
		return err
	}
	return writeHook(filepath.Join(repo, "hooks"), s.cfg.Binary)
}

// writeHook installs hooks/pre-receive atomically (write, then rename), so a
// push running the old hook never sees a half-written file; a hook that is
// already right is left alone.
func writeHook(dir, binary string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	script := "#!/bin/sh\nexec " + shellQuote(binary) + " hook pre-receive\n"
	path := filepath.Join(dir, "pre-receive")
	if b, err := os.ReadFile(path); err == nil && string(b) == script {
		return nil // as it is: no write (and no fsync) on every push
	}
	f, err := renameio.NewPendingFile(path,
		renameio.WithTempDir(dir), renameio.WithStaticPermissions(0o755))
	if err != nil {
		return err
	}
	defer f.Cleanup() // no-op after the rename
	if _, err := f.WriteString(script); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

// Sources exports the trees of pushed revisions from the repositories
// under GitDir: ps:rebuild builds one again without a push.
type Sources struct {
	GitDir string
	// Tmp holds the checkouts, as it holds the trees a push unpacks (the
	// runtime's temp dir: on the data disk, emptied when pier starts).
	Tmp string
}

// Checkout writes the tree of app's revision rev into a fresh directory
// under Tmp and returns it; the caller removes it.
func (s Sources) Checkout(ctx context.Context, app, rev string) (string, error) {
	repo := appdirs.Dirs{Dir: s.GitDir, Suffix: ".git"}.Path(app)
	if _, err := os.Stat(repo); err != nil {
		return "", fmt.Errorf("%s has no repository on this machine: push it again (or run ps:rebuild on the machine it was pushed to)", app)
	}
	dir, err := os.MkdirTemp(s.Tmp, "pier-"+app+"-")
	if err != nil {
		return "", err
	}
	var stderr strings.Builder
	if err := exportTree(ctx, repo, rev, dir, &stderr); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("export %.12s of %s: %v %s", rev, app, err, strings.TrimSpace(stderr.String()))
	}
	return dir, nil
}

// watchWriter passes writes on and notes whether needle went through it
// (also across writes).
type watchWriter struct {
	w      io.Writer
	needle []byte
	tail   []byte
	seen   atomic.Bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	if !w.seen.Load() {
		buf := append(w.tail, p...)
		if bytes.Contains(buf, w.needle) {
			w.seen.Store(true)
		}
		w.tail = append(w.tail[:0], buf[max(0, len(buf)-len(w.needle)):]...)
	}
	return w.w.Write(p)
}

// sizeText says n bytes in MiB, or KiB below one MiB.
func sizeText(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

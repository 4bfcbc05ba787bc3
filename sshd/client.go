package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"

	gossh "golang.org/x/crypto/ssh"
)

// Exec runs one command on the daemon over its unix socket, as root: the
// host CLI ("pier apps:list") and the pre-receive hook use it. The command's
// stdout and stderr are copied to stdout and stderr (nil discards) and its
// exit code is returned. stdin may be nil (the command sees EOF); otherwise
// it is copied by a goroutine Exec does not wait for, so an interactive
// terminal on stdin cannot keep Exec from returning. A non-nil error means
// no exit code was received (daemon not running, connection lost, ctx
// ended); the code is then 1.
func Exec(ctx context.Context, socketPath string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socketPath)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return 1, fmt.Errorf("pier daemon is not running (no socket at %s): start it with \"pier serve\" or scripts/run.sh", socketPath)
	case errors.Is(err, fs.ErrPermission):
		return 1, fmt.Errorf("cannot reach the pier daemon at %s: permission denied; run pier as root", socketPath)
	case err != nil:
		return 1, fmt.Errorf("connect to the pier daemon: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	code, err := run(conn, socketPath, args, stdin, stdout, stderr)
	if ctx.Err() != nil {
		return 1, ctx.Err()
	}
	return code, err
}

func run(conn net.Conn, addr string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c, chans, reqs, err := gossh.NewClientConn(conn, addr, &gossh.ClientConfig{
		User: "root",
		// The socket is root-only local IPC: whoever can create it is
		// already root, so there is no host to verify.
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		return 1, fmt.Errorf("connect to the pier daemon: %w", err)
	}
	client := gossh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return 1, fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	sess.Stdout = stdout
	sess.Stderr = stderr
	// Session.Wait would wait for a copier set up through sess.Stdin; with
	// our own pipe it waits only for the output and the exit status.
	in, err := sess.StdinPipe()
	if err != nil {
		return 1, fmt.Errorf("open stdin: %w", err)
	}
	if err := sess.Start(commandLine(args)); err != nil {
		return 1, fmt.Errorf("start command: %w", err)
	}
	go func() {
		if stdin != nil {
			io.Copy(in, stdin)
		}
		in.Close()
	}()
	err = sess.Wait()
	var exit *gossh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	default:
		return 1, fmt.Errorf("run %q: %w", args, err)
	}
}

// commandLine joins args so that the server's POSIX word splitting
// (splitCommand) returns exactly args, empty ones included.
func commandLine(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

// shellQuote single-quotes s for POSIX sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

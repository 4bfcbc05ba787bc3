package sshd

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gliderlabs/ssh"

	"pier/app"
	"pier/sshd/commands"
)

const interactiveRefused = "pier: there is no login shell here; give a command, e.g. ssh -p 2222 pier@host help (ssh -t pier@host run APP bash opens a shell in an app)"

// handler serves one session on either listener: it identifies the caller,
// refuses interactive use, and runs git or an admin command. The session
// ends with the command's exit code once all its output is written.
func (s *Server) handler(root bool) ssh.Handler {
	return func(sess ssh.Session) {
		if !s.beginHandler() {
			sess.Exit(1)
			return
		}
		defer s.handlers.Done()
		start := time.Now()
		user, name, code := s.session(sess, root)
		s.log.Info("session", "user", user, "command", name, "exit", code,
			"remote", sess.RemoteAddr(), "duration", time.Since(start).Round(time.Millisecond))
		sess.Exit(code)
		if user == "" && !root {
			// A key pier does not know gets its answer and nothing more.
			closeConn(sess.Context())
		}
	}
}

// session runs sess and returns, for the log, who ran what, and the exit code.
func (s *Server) session(sess ssh.Session, root bool) (user, name string, code int) {
	ctx := sess.Context()
	id, msg := s.identify(ctx, root)
	if msg != "" {
		fmt.Fprintln(sess.Stderr(), msg)
		return "", "", 1
	}
	args, err := splitCommand(sess.RawCommand())
	if err != nil {
		fmt.Fprintf(sess.Stderr(), "pier: cannot parse the command: %v\n", err)
		return id.Name, "", 2
	}
	if len(args) == 0 {
		fmt.Fprintln(sess.Stderr(), interactiveRefused)
		return id.Name, "", 1
	}
	switch args[0] {
	case "git-receive-pack", "git-upload-pack":
		return id.Name, args[0], s.git(ctx, sess, id, args)
	}
	call := commands.Call{User: id, Args: args, Stdin: sess, Stdout: sess, Stderr: sess.Stderr()}
	if pty, winch, isPty := sess.Pty(); isPty {
		call.TTY = &app.Terminal{
			Term:   pty.Term,
			Size:   app.WindowSize{Width: pty.Window.Width, Height: pty.Window.Height},
			Resize: windowSizes(winch),
		}
	}
	return id.Name, args[0], s.cmds.Run(ctx, call)
}

// windowSizes passes a session's window changes on, keeping only the
// latest if nobody reads them: the session blocks on an unread one.
func windowSizes(in <-chan ssh.Window) <-chan app.WindowSize {
	out := make(chan app.WindowSize, 1)
	go func() {
		defer close(out)
		for w := range in {
			ws := app.WindowSize{Width: w.Width, Height: w.Height}
			select {
			case out <- ws:
			default:
				select {
				case <-out:
				default:
				}
				out <- ws
			}
		}
	}()
	return out
}

// splitCommand splits an exec request's command line into words by POSIX
// sh rules for quotes and backslashes (no expansions). It is used instead of
// gliderlabs' Session.Command because go-shlex drops empty words, so an
// empty argument, which Exec sends as two single quotes, would be lost.
func splitCommand(line string) ([]string, error) {
	var (
		args   []string
		word   strings.Builder
		inWord bool
	)
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case ' ', '\t', '\n':
			if inWord {
				args = append(args, word.String())
				word.Reset()
				inWord = false
			}
		case '\'':
			inWord = true
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case '"':
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`\n", line[i+1]) >= 0 {
					i++
					if line[i] == '\n' {
						continue
					}
				}
				word.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New("unterminated double quote")
			}
		case '\\':
			if i+1 == len(line) {
				inWord = true
				word.WriteByte(c) // a trailing backslash stays literal
				break
			}
			i++
			if line[i] == '\n' {
				continue // line continuation
			}
			inWord = true
			word.WriteByte(line[i])
		default:
			inWord = true
			word.WriteByte(c)
		}
	}
	if inWord {
		args = append(args, word.String())
	}
	return args, nil
}

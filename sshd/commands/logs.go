package commands

import (
	"context"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"pier/app"
)

// logsBackend is what the logs command uses: an app's process output.
type logsBackend interface {
	Logs(ctx context.Context, name string, q app.LogQuery, w io.Writer) error
}

// logsCommands is logs.
type logsCommands struct{ p logsBackend }

// maxLogLines bounds logs -n.
const maxLogLines = 10000

// logs prints an app's last output lines, "<time> <process>.<instance> <text>",
// and with -t keeps streaming new ones until the client goes away.
func (h logsCommands) logs(ctx context.Context, c Call, args []string) error {
	name, q, err := logsArgs(args)
	if err != nil {
		return err
	}
	return about("app", name, h.p.Logs(ctx, name, q, &printable{w: c.Stdout}))
}

// logsArgs parses "APP [-t|--tail] [-p|--process TYPE] [-n|--num N]",
// options in any order, values as the next argument or after "=".
func logsArgs(args []string) (name string, q app.LogQuery, err error) {
	q.Lines = 100
	for i := 0; i < len(args); i++ {
		opt, val, hasVal := strings.Cut(args[i], "=")
		if !strings.HasPrefix(opt, "--") {
			opt, hasVal = args[i], false
		}
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", badUsage("%s needs a value", opt)
			}
			i++
			return args[i], nil
		}
		switch opt {
		case "-t", "--tail":
			if hasVal {
				return "", q, badUsage("%s takes no value", opt)
			}
			q.Follow = true
		case "-n", "--num":
			v, err := value()
			if err != nil {
				return "", q, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxLogLines {
				return "", q, badUsage("%s %.20q: want a number of lines from 1 to %d", opt, v, maxLogLines)
			}
			q.Lines = n
		case "-p", "--process":
			v, err := value()
			if err != nil {
				return "", q, err
			}
			if err := app.ValidProcessType(v); err != nil {
				return "", q, badUsage("%v", err)
			}
			q.Process = v
		default:
			if strings.HasPrefix(args[i], "-") {
				return "", q, badUsage("unknown option %.40q", args[i])
			}
			if name != "" {
				return "", q, badUsage("")
			}
			name = args[i]
		}
	}
	if name == "" {
		return "", q, badUsage("")
	}
	if err := app.ValidName(name); err != nil {
		return "", q, badUsage("%v", err)
	}
	return name, q, nil
}

// printable passes text on with terminal control sequences defused: an
// app's output must not move a user's cursor, retitle the window or
// answer for it. Control characters other than tab and newline, C1
// controls included, become "?".
type printable struct {
	w    io.Writer
	part []byte // an incomplete UTF-8 sequence at the end of the last write
}

func (p *printable) Write(b []byte) (int, error) {
	data := append(p.part, b...)
	p.part = nil
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 && !utf8.FullRune(data[i:]) && len(data)-i < utf8.UTFMax {
			p.part = append([]byte{}, data[i:]...)
			break
		}
		if r == utf8.RuneError && size == 1 || r != '\t' && r != '\n' && unicode.IsControl(r) {
			out = append(out, '?')
		} else {
			out = append(out, data[i:i+size]...)
		}
		i += size
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

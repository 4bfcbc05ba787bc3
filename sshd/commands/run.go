package commands

import (
	"context"
	"strings"

	"pier/app"
)

// runBackend is what the run command uses: one-off containers.
type runBackend interface {
	Run(ctx context.Context, r app.RunRequest) (int, error)
}

// runCommands is run.
type runCommands struct{ p runBackend }

// exitStatus passes a one-off command's exit code through as the command's.
type exitStatus int

func (e exitStatus) Error() string { return "" }

// run runs "APP [--] COMMAND..." in a fresh container of the app.
func (h runCommands) run(ctx context.Context, c Call, args []string) error {
	if len(args) < 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	cmd := args[1:]
	if cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		return badUsage("no command given")
	}
	code, err := h.p.Run(ctx, app.RunRequest{
		App: args[0], Command: shellJoin(cmd), Out: c.Stdout, Stdin: c.Stdin, TTY: c.TTY,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

// shellJoin joins args into one /bin/sh command line. A single argument is
// taken as a command line as it is ("run hello 'cd x && make'").
func shellJoin(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

// enterBackend is what enter uses: commands in running instances.
type enterBackend interface {
	Enter(ctx context.Context, r app.EnterRequest) (int, error)
}

// enterCommands is enter.
type enterCommands struct{ p enterBackend }

// enter runs "APP [TYPE] [-- COMMAND...]" in a running instance of the
// app; a shell without a command. Dokku's "web.1" names type web.
func (h enterCommands) enter(ctx context.Context, c Call, args []string) error {
	if len(args) < 1 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	r := app.EnterRequest{App: args[0], Out: c.Stdout, Stdin: c.Stdin, TTY: c.TTY}
	rest := args[1:]
	if len(rest) > 0 && rest[0] != "--" {
		r.Process, _, _ = strings.Cut(rest[0], ".")
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != "--" {
			return badUsage("a command goes after --: enter %s %s -- COMMAND", r.App, r.Process)
		}
		if rest = rest[1:]; len(rest) == 0 {
			return badUsage("no command given after --")
		}
		r.Command = shellJoin(rest)
	}
	code, err := h.p.Enter(ctx, r)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

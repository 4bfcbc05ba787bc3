package commands

import (
	"context"
	"io"
	"strings"

	"pier/app"
)

// runBackend is what the run command uses: one-off containers.
type runBackend interface {
	Run(ctx context.Context, name, command string, out io.Writer) (int, error)
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
	code, err := h.p.Run(ctx, args[0], shellJoin(cmd), c.Stdout)
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

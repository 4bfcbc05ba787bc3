package app

import (
	"context"
	"fmt"
	"io"
)

// RunRequest is one `run`: Command in a fresh container of App, its
// output to Out; Stdin and TTY as in OneOff.
type RunRequest struct {
	App, Command string
	Out          io.Writer
	Stdin        io.Reader
	TTY          *Terminal
}

// Run runs a command in a fresh container of the app's current release,
// with its config and volumes, streaming the output to out, and returns the
// command's exit code. Cancelling ctx (the client went away) kills it. A
// command that starts with a Procfile process type runs that type's
// command (see OneOffOf).
func (s *Service) Run(ctx context.Context, r RunRequest) (int, error) {
	name, command := r.App, r.Command
	if command == "" {
		return -1, fmt.Errorf("no command given: run %s -- COMMAND", name)
	}
	if err := ValidName(name); err != nil {
		return -1, err
	}
	a, err := s.load(ctx, name)
	if err != nil {
		return -1, err
	}
	if a.Release == 0 {
		return -1, fmt.Errorf("%s has not been deployed yet: push it first", name)
	}
	rel, err := s.store.Release(ctx, name, a.Release)
	if err != nil {
		return -1, err
	}
	o := OneOffOf(a, rel, command, r.Out)
	o.Stdin, o.TTY = r.Stdin, r.TTY
	return s.node.RunOnce(ctx, o)
}

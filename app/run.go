package app

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// RunRequest is one `run`: Command in a fresh container of App, its
// output to Out; Stdin and TTY as in OneOff.
type RunRequest struct {
	App, Command string
	Out          io.Writer
	Stdin        io.Reader
	TTY          *Terminal
	// Here runs it on this machine: another machine relayed it.
	Here bool
}

// RemoteShells relay `run` and `enter` to another machine of the cluster,
// with their input, terminal and output.
type RemoteShells interface {
	RunOn(ctx context.Context, node string, r RunRequest) (int, error)
	EnterOn(ctx context.Context, node string, r EnterRequest) (int, error)
}

// shellNode is the machine a's `run` and `enter` go to: "" for this one
// (also in no cluster, and when a is placed here or nowhere), else the
// first of the machines a is placed on.
func (c core) shellNode(a App) string {
	self := c.set.Self()
	if self == "" || len(a.Placement) == 0 || slices.Contains(a.Placement, self) {
		return ""
	}
	return a.Placement[0]
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
	// It runs where the app runs, with its volumes.
	if node := s.shellNode(a); node != "" && !r.Here && s.shells != nil {
		return s.shells.RunOn(ctx, node, r)
	}
	o := OneOffOf(a, rel, command, r.Out)
	o.Stdin, o.TTY = r.Stdin, r.TTY
	return s.node.RunOnce(ctx, o)
}

package app

import (
	"context"
	"fmt"
	"io"
)

// Run runs a command in a fresh container of the app's current release,
// with its config and volumes, streaming the output to out, and returns the
// command's exit code. Cancelling ctx (the client went away) kills it.
func (s *Service) Run(ctx context.Context, name, command string, out io.Writer) (int, error) {
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
	return s.node.RunOnce(ctx, OneOffOf(a, rel, command, out))
}

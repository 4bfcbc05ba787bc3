package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Logs writes the app's process output to w: the last q.Lines lines (of
// q.Process's instances if set), then with q.Follow new lines until ctx
// ends. ErrNotFound if there is no such app.
func (s *Service) Logs(ctx context.Context, name string, q LogQuery, w io.Writer) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if q.Process != "" {
		if err := ValidProcessType(q.Process); err != nil {
			return err
		}
	}
	a, err := s.store.App(ctx, name)
	if err != nil {
		return err
	}
	if q.Process != "" && a.Release > 0 {
		rel, err := s.store.Release(ctx, name, a.Release)
		if err != nil {
			return err
		}
		if _, ok := rel.Processes[q.Process]; !ok {
			procs := strings.Join(slices.Sorted(maps.Keys(rel.Processes)), ", ")
			if procs == "" {
				procs = "none"
			}
			return fmt.Errorf("%s has no process type %q: its processes are %s (logs without -p shows them all)",
				name, q.Process, procs)
		}
	}
	if nodes := PlacedElsewhere(a, s.set.Self()); nodes != nil {
		return fmt.Errorf("%s runs on %s, not on this machine, and its logs are kept there: run logs on %s",
			name, strings.Join(nodes, ", "), nodes[0])
	}
	if s.logs == nil {
		return errors.New("logs are not available on this pier")
	}
	return s.logs.Logs(ctx, name, q, w)
}

// ValidProcessType reports whether s can name a process type, as in a
// Procfile: lowercase letters, digits, dashes and underscores, at most 30.
func ValidProcessType(s string) error {
	if !validProcessType(s) {
		return fmt.Errorf("process type %q is invalid: use lowercase letters, digits, dashes and underscores", trim(s))
	}
	return nil
}

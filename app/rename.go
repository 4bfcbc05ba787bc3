package app

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Rename gives app from the name to, as Dokku's apps:rename does. The app
// answers at <to>.<domain> from then on and no longer at <from>.<domain>;
// its releases, config, custom domains, access rules, volumes, logs, cron
// entries and their history, build cache, git repository, keys limited to
// it and audit log go with it. Its processes are stopped under the old
// name and started again under the new one, so the app is briefly down.
//
// If any step fails, the app keeps its old name and is started again.
func (s *Service) Rename(ctx context.Context, from, to string, out io.Writer) error {
	if err := ValidName(from); err != nil {
		return err
	}
	if err := ValidName(to); err != nil {
		return err
	}
	if to == ReservedName {
		return fmt.Errorf("the app name %q is reserved: the dashboard answers at %s.<domain>", to, to)
	}
	if from == to {
		return fmt.Errorf("%s is already called %s: give a different new name", from, to)
	}
	if out == nil {
		out = io.Discard
	}
	// Both names are locked, in a fixed order so that two renames cannot
	// wait for each other: nothing may push to either meanwhile.
	first, second := from, to
	if second < first {
		first, second = second, first
	}
	defer s.lock(first)()
	defer s.lock(second)()
	a, err := s.load(ctx, from)
	if err != nil {
		return err
	}
	if _, err := s.store.App(ctx, to); err == nil {
		return exists(fmt.Sprintf("an app named %s exists already: choose another name, or apps:destroy %s first", to, to))
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}

	fmt.Fprintf(out, "-----> Stopping %s\n", from)
	s.vacate(ctx, from)

	if err := s.renameFiles(from, to); err != nil {
		return errors.Join(err, s.restartAs(ctx, from, out))
	}
	if err := s.apply(ctx, RenameApp{From: from, To: to}); err != nil {
		err = fmt.Errorf("rename %s to %s: %w", from, to, err)
		if back := s.renameFiles(to, from); back != nil {
			return errors.Join(err, back)
		}
		return errors.Join(err, s.restartAs(ctx, from, out))
	}
	fmt.Fprintf(out, "-----> Renamed %s to %s\n", from, to)
	if a.Release == 0 {
		return nil
	}
	return s.restartAs(ctx, to, out)
}

// renameFiles moves every part's files of app from to the name to; if one
// part fails, those already moved are moved back.
func (s *Service) renameFiles(from, to string) error {
	for i, f := range s.files {
		if err := f.RenameFiles(from, to); err != nil {
			for _, done := range s.files[:i] {
				if back := done.RenameFiles(to, from); back != nil {
					s.log.Error("files not moved back after a failed rename", "app", from, "err", back)
				}
			}
			return fmt.Errorf("move the files of %s to %s: %w", from, to, err)
		}
	}
	return nil
}

// restartAs starts app's current release again, with its schedule, after
// a rename stopped it: every occupant restores what it runs under the
// name. The caller holds the app's lock.
func (s *Service) restartAs(ctx context.Context, name string, out io.Writer) error {
	a, err := s.load(ctx, name)
	if err != nil || a.Release == 0 {
		return err
	}
	rel, err := s.store.Release(ctx, name, a.Release)
	if err != nil {
		return err
	}
	if !a.Stopped && a.Asleep == Awake {
		fmt.Fprintf(out, "-----> Starting v%d: %s\n", rel.Version, DescribeFormation(FormationFor(a, rel), rel))
	}
	var errs []error
	for _, o := range s.occupants {
		errs = append(errs, o.Restore(ctx, name))
	}
	return errors.Join(errs...)
}

// vacate has every occupant stop what it runs under name, as a rename or
// a destroy takes the name away. The caller holds the app's lock.
func (s *Service) vacate(ctx context.Context, name string) {
	for _, o := range s.occupants {
		o.Vacate(ctx, name)
	}
}

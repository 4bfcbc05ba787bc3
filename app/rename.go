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

	if err := s.moveApp(ctx, from, to); err != nil {
		if errors.Is(err, errRenameStopped) {
			return err
		}
		return errors.Join(err, s.restartAs(ctx, from, out))
	}
	fmt.Fprintf(out, "-----> Renamed %s to %s\n", from, to)
	if a.Release == 0 {
		return nil
	}
	return s.restartAs(ctx, to, out)
}

// errRenameStopped is what renameStep returns to stop a rename where it
// is, as a crash would.
var errRenameStopped = errors.New("rename stopped")

// moveApp moves app from's files, part by part, and then its record to the
// name to, in steps the journal records: step 0 is the journal written,
// step i (1 to len(files)) part i-1's files moved, step len(files)+1 the
// store's rename. Each step can be done again: a part whose files moved
// already finds nothing to move. A crash leaves the journal, and start-up
// finishes the rename (FinishRenames). A step that fails undoes those
// done, lowering the recorded step before each undo, and forgets the
// journal: the app keeps its old name. The caller holds both names' locks.
func (s *Service) moveApp(ctx context.Context, from, to string) error {
	if s.renames != nil {
		if err := s.renames.BeginRename(ctx, from, to); err != nil {
			return fmt.Errorf("rename %s to %s: %w", from, to, err)
		}
	}
	if err := s.renameStepDone(ctx, from, 0); err != nil {
		return err
	}
	return s.renameSteps(ctx, RenameIntent{From: from, To: to}, true)
}

// renameSteps does the steps of in after in.Step, recording each, then
// forgets the journal. If undo, a step that fails undoes those done.
func (s *Service) renameSteps(ctx context.Context, in RenameIntent, undo bool) error {
	failed := func(err error, moved int) error {
		if !undo || errors.Is(err, errRenameStopped) {
			return err
		}
		return errors.Join(err, s.undoRename(ctx, in.From, in.To, moved))
	}
	for i, f := range s.files {
		if i+1 <= in.Step {
			continue
		}
		if err := f.RenameFiles(in.From, in.To); err != nil {
			return failed(fmt.Errorf("move the files of %s to %s: %w", in.From, in.To, err), i)
		}
		if err := s.renameStepDone(ctx, in.From, i+1); err != nil {
			return failed(err, i+1)
		}
	}
	if err := s.renameRecord(ctx, in.From, in.To); err != nil {
		return failed(fmt.Errorf("rename %s to %s: %w", in.From, in.To, err), len(s.files))
	}
	if err := s.renameStepDone(ctx, in.From, len(s.files)+1); err != nil {
		return err
	}
	if s.renames != nil {
		if err := s.renames.EndRename(ctx, in.From); err != nil {
			return err
		}
	}
	return s.renameStepDone(ctx, in.From, len(s.files)+2)
}

// renameRecord renames the app's record, unless that is done: from gone
// and to there.
func (s *Service) renameRecord(ctx context.Context, from, to string) error {
	if _, err := s.store.App(ctx, from); errors.Is(err, ErrNotFound) {
		if _, err := s.store.App(ctx, to); err == nil {
			return nil
		}
	}
	return s.apply(ctx, RenameApp{From: from, To: to})
}

// renameStepDone records step as done and calls renameStep.
func (s *Service) renameStepDone(ctx context.Context, from string, step int) error {
	if s.renames != nil && step > 0 && step <= len(s.files)+1 {
		if err := s.renames.SetRenameStep(ctx, from, step); err != nil {
			return err
		}
	}
	if s.renameStep != nil {
		return s.renameStep(step)
	}
	return nil
}

// undoRename moves the files of the first moved parts of a rename that
// failed before its record moved back to from, last part first, and
// forgets the journal. Each part's step is lowered before its files move
// back, so that a crash meanwhile leaves a journal that moves them
// forward again.
func (s *Service) undoRename(ctx context.Context, from, to string, moved int) error {
	for i := moved - 1; i >= 0; i-- {
		if s.renames != nil {
			if err := s.renames.SetRenameStep(ctx, from, i); err != nil {
				return err
			}
		}
		if err := s.files[i].RenameFiles(to, from); err != nil {
			s.log.Error("files not moved back after a failed rename", "app", from, "err", err)
			return fmt.Errorf("move the files of %s back from %s: %w (the next start finishes the rename)", from, to, err)
		}
	}
	if s.renames != nil {
		return s.renames.EndRename(ctx, from)
	}
	return nil
}

// FinishRenames finishes every rename a crash interrupted, as the journal
// holds them: the app ends whole under its new name. Call it on start,
// before serving. Names are checked again: the journal is read back from
// disk. A rename that cannot be finished stays in the journal (the next
// start tries again) and is reported.
func (s *Service) FinishRenames(ctx context.Context) error {
	if s.renames == nil {
		return nil
	}
	ins, err := s.renames.Renames(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range ins {
		if err := errors.Join(ValidName(in.From), ValidName(in.To)); err != nil {
			errs = append(errs, fmt.Errorf("the journal holds a rename of %q to %q: %w; it is left alone", in.From, in.To, err))
			continue
		}
		s.log.Info("finishing a rename a restart interrupted", "from", in.From, "to", in.To, "step", in.Step)
		err := func() error {
			first, second := in.From, in.To
			if second < first {
				first, second = second, first
			}
			defer s.lock(first)()
			defer s.lock(second)()
			s.vacate(ctx, in.From)
			return s.renameSteps(ctx, in, false)
		}()
		if err != nil {
			errs = append(errs, fmt.Errorf("finish the rename of %s to %s: %w", in.From, in.To, err))
		}
	}
	return errors.Join(errs...)
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

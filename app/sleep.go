package app

import (
	"context"
	"fmt"
	"strings"
)

// SleepNow puts an app to sleep at once: frozen, or stopped if deep.
func (s *Service) SleepNow(ctx context.Context, name string, deep bool) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if a.Release == 0 || a.Stopped {
		return fmt.Errorf("%s is not running", name)
	}
	if a.Static {
		return fmt.Errorf("%s is a static site: the router serves its files and no process runs, so there is nothing to put to sleep", name)
	}
	to := Frozen
	if deep {
		to = Stopped
	}
	if self := s.set.Self(); len(a.Placement) > 1 {
		return fmt.Errorf("%s runs on %s: an app spread over several machines does not sleep (ps:scale it to one instance first)",
			name, strings.Join(a.Placement, ", "))
	} else if PlacedElsewhere(a, self) != nil {
		// The machine that runs it puts it to sleep when the log says so.
		return s.apply(ctx, SetSleepState{App: name, State: to})
	}
	return s.node.Sleep(ctx, a, to)
}

// SetSleepPolicy sets an app's own sleep policy (nil: back to app.json's or
// the defaults).
func (s *Service) SetSleepPolicy(ctx context.Context, name string, p *SleepPolicy) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	s.node.MarkAwake(name) // the new policy counts idleness from now
	err = s.apply(ctx, SetSleepPolicy{App: name, Policy: p})
	unlock()
	if err == nil && p != nil && p.Never && a.Asleep != Awake {
		return s.node.Wake(ctx, name) // "never sleep" wakes a sleeping app
	}
	return err
}

// SleepPolicyOf is the policy in force for an app.
func (s *Service) SleepPolicyOf(ctx context.Context, name string) (SleepPolicy, error) {
	a, err := s.App(ctx, name)
	if err != nil {
		return SleepPolicy{}, err
	}
	var rel Release
	if a.Release > 0 {
		if rel, err = s.store.Release(ctx, name, a.Release); err != nil {
			return SleepPolicy{}, err
		}
	}
	return SleepPolicyFor(a, rel, s.set.Sleep), nil
}

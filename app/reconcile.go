package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Reconcile makes what runs match what should run: every deployed app has a
// running web instance of its current release, routed; instances of other
// releases or of unknown apps are stopped. It runs on daemon start. Apps are
// handled concurrently; one failing app does not stop the others.
func (s *Service) Reconcile(ctx context.Context) error { return s.reconcile(ctx, true) }

// Heal runs until ctx ends, every interval replacing web instances of
// current releases whose process died. Unlike Reconcile it leaves running
// instances of older releases alone: a deploy retires them after draining.
func (s *Service) Heal(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.reconcile(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Warn("heal", "err", err)
			}
		}
	}
}

func (s *Service) reconcile(ctx context.Context, full bool) error {
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return err
	}
	observed, err := s.runtime.Instances(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	byApp := map[string][]Instance{}
	for _, in := range observed {
		byApp[in.App] = append(byApp[in.App], in)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, a := range apps {
		known[a.Name] = true
		if a.Release == 0 || !full && healthy(a, byApp[a.Name]) {
			continue
		}
		wg.Add(1)
		go func(a App) {
			defer wg.Done()
			if err := s.reconcileApp(ctx, a, byApp[a.Name], full); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
				mu.Unlock()
			}
		}(a)
	}
	for _, in := range observed {
		if full && !known[in.App] {
			s.stop(in.ID)
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Service) reconcileApp(ctx context.Context, a App, have []Instance, full bool) error {
	unlock := s.lock(a.Name)
	defer unlock()
	// Read again under the lock: a deploy may have finished meanwhile.
	a, err := s.store.App(ctx, a.Name)
	if err != nil {
		return err
	}
	rel, err := s.store.Release(ctx, a.Name, a.Release)
	if err != nil {
		return err
	}
	if !full {
		have = s.instancesOf(ctx, a.Name, func(Instance) bool { return true })
	}
	var keep []string
	var dead, stale []Instance
	for _, in := range have {
		current := in.Release == rel.Version && in.Process == "web" && in.Image == rel.Image && in.Addr != ""
		switch {
		case in.Running && current:
			keep = append(keep, in.Addr)
		case !in.Running:
			if current {
				s.log.Warn("web process died; starting a new one", "app", a.Name, "instance", in.ID,
					"output", s.runtime.Tail(a.Name, in.ID, 5))
			}
			dead = append(dead, in)
		case full:
			stale = append(stale, in)
		}
	}
	if len(dead) > 0 {
		// Route away from dead addresses first: a dial to an address whose
		// namespace is gone hangs instead of failing.
		s.routes.Set(a.Name, keep)
	}
	for _, in := range append(dead, stale...) {
		s.stop(in.ID)
	}
	if len(keep) > 0 && !full {
		return nil
	}
	if len(keep) == 0 {
		in, err := s.startWeb(ctx, rel)
		if err != nil {
			return err
		}
		keep = append(keep, in.Addr)
	}
	s.routes.Set(a.Name, keep)
	s.log.Info("reconciled", "app", a.Name, "release", rel.Version, "instances", len(keep))
	return nil
}

// healthy reports whether a web instance of the app's current release runs.
func healthy(a App, have []Instance) bool {
	for _, in := range have {
		if in.Running && in.Release == a.Release && in.Process == "web" {
			return true
		}
	}
	return false
}

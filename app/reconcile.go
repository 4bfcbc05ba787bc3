package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Reconcile makes what runs match what should run: every deployed app has a
// running web instance of its current release, routed; instances of other
// releases or of unknown apps are stopped. It runs on daemon start. Apps are
// handled concurrently; one failing app does not stop the others.
func (s *Service) Reconcile(ctx context.Context) error {
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
		if a.Release == 0 {
			continue
		}
		wg.Add(1)
		go func(a App) {
			defer wg.Done()
			if err := s.reconcileApp(ctx, a, byApp[a.Name]); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
				mu.Unlock()
			}
		}(a)
	}
	for _, in := range observed {
		if !known[in.App] {
			s.stop(in.ID)
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Service) reconcileApp(ctx context.Context, a App, have []Instance) error {
	unlock := s.lock(a.Name)
	defer unlock()
	rel, err := s.store.Release(ctx, a.Name, a.Release)
	if err != nil {
		return err
	}
	var keep []string
	for _, in := range have {
		if in.Running && in.Release == rel.Version && in.Process == "web" && in.Image == rel.Image && in.Addr != "" {
			keep = append(keep, in.Addr)
			continue
		}
		s.stop(in.ID)
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

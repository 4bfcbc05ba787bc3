package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Reconcile makes what runs match what should run, on daemon start: every
// deployed app runs its formation of its current release, routed; instances
// of other releases or of unknown apps are stopped. Apps are handled
// concurrently; one failing app does not stop the others.
func (s *Service) Reconcile(ctx context.Context) error { return s.reconcile(ctx, modeStartup) }

// Heal runs until ctx ends, every interval replacing instances of current
// releases whose process died, with exponential backoff for an app that
// keeps crashing. It leaves running instances of older releases alone: a
// deploy retires them after draining.
func (s *Service) Heal(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := s.reconcile(ctx, modeHeal); err != nil && ctx.Err() == nil {
			s.log.Warn("heal", "err", err)
		}
	})
}

// every calls f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// mode says who converges an app, which decides what may be stopped and
// whether crash backoff applies.
type mode int

const (
	modeStartup mode = iota // daemon start: stop anything stale, start everything now
	modeHeal                // periodic: replace dead instances, with backoff
	modeUser                // a command (ps:start, ps:scale): act now, report errors
)

func (s *Service) reconcile(ctx context.Context, m mode) error {
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
	if m == modeStartup {
		for _, a := range apps {
			s.publishApp(ctx, a)
		}
	}
	for _, a := range apps {
		known[a.Name] = true
		if a.Release == 0 || m == modeHeal && s.settled(ctx, a, byApp[a.Name]) {
			continue
		}
		wg.Add(1)
		go func(a App) {
			defer wg.Done()
			unlock := s.lock(a.Name)
			defer unlock()
			// Read again under the lock: a deploy may have finished meanwhile.
			a, err := s.store.App(ctx, a.Name)
			if err == nil {
				err = s.converge(ctx, a, m)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
				mu.Unlock()
			}
		}(a)
	}
	if m == modeStartup {
		for _, in := range observed {
			if !known[in.App] {
				s.stop(in.ID)
			}
		}
		s.removeOrphanSites(ctx, known)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// settled reports, from a snapshot, whether an app needs no healing: every
// instance it has runs, and it has as many of each current process as its
// formation asks for (or it is stopped and nothing runs).
func (s *Service) settled(ctx context.Context, a App, have []Instance) bool {
	if a.Asleep != Awake {
		return true // asleep on purpose; a request wakes it
	}
	count := map[string]int{}
	for _, in := range have {
		if !in.Running {
			return false
		}
		if in.Release == a.Release {
			count[in.Process]++
		}
	}
	if a.Stopped {
		return len(have) == 0
	}
	rel, err := s.store.Release(ctx, a.Name, a.Release)
	if err != nil {
		return false
	}
	for proc, n := range formationFor(a, rel) {
		if rel.Processes[proc] != "" && count[proc] < n {
			return false
		}
	}
	return true
}

// converge makes a's instances match its formation of its current release.
// The caller holds the app's lock.
func (s *Service) converge(ctx context.Context, a App, m mode) error {
	rel, err := s.store.Release(ctx, a.Name, a.Release)
	if err != nil {
		return err
	}
	formation := formationFor(a, rel)
	have := s.instancesOf(ctx, a.Name, func(Instance) bool { return true })
	if a.Asleep != Awake && !a.Stopped && rel.Static == "" {
		return s.restoreSleep(ctx, a, rel, have)
	}

	running := map[string][]Instance{}
	var dead, extra []Instance
	for _, in := range have {
		current := in.Release == rel.Version && in.Image == rel.Image && rel.Processes[in.Process] != ""
		switch {
		case !in.Running:
			if current && m == modeHeal {
				s.recordCrash(a.Name, in.Process, s.runtime.Tail(a.Name, in.ID, 10))
				s.log.Warn("process died", "app", a.Name, "process", in.Process, "instance", in.ID)
			}
			dead = append(dead, in)
		case !current || a.Stopped:
			if m != modeHeal || a.Stopped {
				extra = append(extra, in)
			}
		default:
			running[in.Process] = append(running[in.Process], in)
		}
	}
	for proc, list := range running {
		if n := formation[proc]; len(list) > n {
			extra = append(extra, list[n:]...)
			running[proc] = list[:n]
		}
	}
	// Route away from dead and extra instances first: a dial to an address
	// whose network namespace is gone hangs instead of failing. A static
	// site's files are mounted again if a reboot unmounted them.
	var errs []error
	if rel.Static != "" && !a.Stopped {
		site, err := s.mountSite(ctx, rel)
		if err == nil {
			err = s.routes.SetStatic(a.Name, site)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			s.retireSitesLater(a.Name, otherThan(rel))
		}
	} else {
		s.routes.Set(a.Name, webAddrs(running["web"]))
		s.retireSitesLater(a.Name, func(Site) bool { return true })
	}
	for _, in := range dead {
		s.stop(in.ID)
	}
	go s.retire(extra)
	if a.Stopped {
		return errors.Join(errs...)
	}

	for _, proc := range slices.Sorted(maps.Keys(formation)) {
		missing := formation[proc] - len(running[proc])
		if missing <= 0 || rel.Processes[proc] == "" || proc == "release" {
			continue
		}
		if m == modeHeal && !s.mayRestart(a.Name, proc) {
			continue
		}
		for i := 0; i < missing; i++ {
			in, err := s.startInstance(ctx, a, rel, proc)
			if err != nil {
				if m == modeHeal {
					s.recordCrash(a.Name, proc, []string{err.Error()})
				}
				errs = append(errs, err)
				break
			}
			running[proc] = append(running[proc], in)
			if proc == "web" {
				s.routes.Set(a.Name, webAddrs(running["web"]))
			}
		}
	}
	if len(errs) == 0 {
		s.log.Info("converged", "app", a.Name, "release", rel.Version, "formation", describeFormation(formation, rel))
	}
	return errors.Join(errs...)
}

// restoreSleep rebuilds a sleeping app's route after a daemon start: a
// frozen app keeps its paused instances (its route holds requests and
// resumes them), a stopped one has none.
func (s *Service) restoreSleep(ctx context.Context, a App, rel Release, have []Instance) error {
	var web []Instance
	for _, in := range have {
		if in.Release == rel.Version && in.Process == "web" && in.Running && a.Asleep == Frozen {
			web = append(web, in)
			continue
		}
		if in.Release != rel.Version || !in.Running || a.Asleep == Stopped {
			s.stop(in.ID)
		}
	}
	if a.Asleep == Frozen && len(web) == 0 {
		// The frozen processes are gone (a reboot): sleep on, stopped.
		if err := s.apply(ctx, SetSleepState{App: a.Name, State: Stopped}); err != nil {
			return err
		}
	}
	s.routes.SetAsleep(a.Name, true)
	s.routes.Set(a.Name, webAddrs(web))
	return nil
}

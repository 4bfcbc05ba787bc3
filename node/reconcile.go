package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"pier/app"
	"slices"
	"sync"
	"time"
)

// Reconcile makes what runs match what should run, on daemon start: every
// deployed app runs its formation of its current release, routed; instances
// of other releases or of unknown apps are stopped. Apps are handled
// concurrently; one failing app does not stop the others.
func (n *Actuator) Reconcile(ctx context.Context) error { return n.reconcile(ctx, modeStartup) }

// Converge makes app name's instances match its formation of its current
// release now, as a user asked (ps:scale, ps:start): crash backoff starts
// afresh and failures are returned. The caller holds the app's lock.
func (n *Actuator) Converge(ctx context.Context, name string) error {
	a, err := n.store.App(ctx, name)
	if err != nil {
		return err
	}
	n.clearCrashes(name)
	return n.converge(ctx, a, modeUser)
}

// Heal runs until ctx ends, every interval replacing instances of current
// releases whose process died, with exponential backoff for an app that
// keeps crashing. It leaves running instances of older releases alone: a
// deploy retires them after draining.
func (n *Actuator) Heal(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := n.reconcile(ctx, modeHeal); err != nil && ctx.Err() == nil {
			n.log.Warn("heal", "err", err)
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
	modeUser                // a command (ps:start, ps:scale) or an applied change: act now, report errors
)

func (n *Actuator) reconcile(ctx context.Context, m mode) error {
	apps, err := n.store.Apps(ctx)
	if err != nil {
		return err
	}
	observed, err := n.runtime.Instances(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	byApp := map[string][]app.Instance{}
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
			n.publishApp(ctx, a)
		}
	}
	for _, a := range apps {
		known[a.Name] = true
		if a.Release == 0 || m == modeHeal && n.settled(ctx, a, byApp[a.Name]) {
			continue
		}
		wg.Add(1)
		go func(a app.App) {
			defer wg.Done()
			unlock := n.Lock(a.Name)
			defer unlock()
			// Read again under the lock: a deploy may have finished meanwhile.
			a, err := n.store.App(ctx, a.Name)
			if err == nil {
				err = n.converge(ctx, a, m)
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
				n.stop(in.ID)
			}
		}
		n.removeOrphanSites(ctx, known)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// settled reports, from a snapshot, whether an app needs no healing: every
// instance it has runs, and it has as many of each current process as its
// formation asks for (or it is stopped and nothing runs).
func (n *Actuator) settled(ctx context.Context, a app.App, have []app.Instance) bool {
	if a.Asleep != app.Awake || app.PlacedElsewhere(a, n.set.Self()) != nil {
		return true // asleep on purpose (a request wakes it), or runs on other machines
	}
	count := map[string]int{}
	for _, in := range have {
		if !in.Running {
			return false
		}
		if in.Release == a.Release && in.Restart >= a.Restarts {
			count[in.Process]++
		}
	}
	if a.Stopped {
		return len(have) == 0
	}
	rel, err := n.store.Release(ctx, a.Name, a.Release)
	if err != nil {
		return false
	}
	for proc, n := range app.ShareOf(app.FormationFor(a, rel), a.Placement, n.set.Self()) {
		if rel.Processes[proc] != "" && count[proc] < n {
			return false
		}
	}
	return true
}

// converge makes a's instances match its formation of its current release.
// The caller holds the app's lock.
func (n *Actuator) converge(ctx context.Context, a app.App, m mode) error {
	if nodes := app.PlacedElsewhere(a, n.set.Self()); nodes != nil {
		n.runsElsewhere(ctx, a, nodes)
		return nil
	}
	rel, err := n.store.Release(ctx, a.Name, a.Release)
	if err != nil {
		return err
	}
	formation := app.ShareOf(app.FormationFor(a, rel), a.Placement, n.set.Self())
	have := n.instancesOf(ctx, a.Name, func(app.Instance) bool { return true })
	if a.Asleep != app.Awake && !a.Stopped && rel.Static == "" {
		return n.restoreSleep(ctx, a, rel, have)
	}

	running := map[string][]app.Instance{}
	var dead, extra []app.Instance
	for _, in := range have {
		if n.isRetiring(in.ID) {
			continue // on its way out already
		}
		// An instance started before the app's last restart is replaced
		// like one of an older release.
		current := in.Release == rel.Version && in.Image == rel.Image && rel.Processes[in.Process] != "" &&
			in.Restart >= a.Restarts
		switch {
		case !in.Running:
			if current && m == modeHeal {
				n.recordCrash(a.Name, in.Process, n.runtime.Tail(a.Name, in.ID, 10))
				n.log.Warn("process died", "app", a.Name, "process", in.Process, "instance", in.ID)
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
	// A new release or a restart reaching this machine by the log (the
	// command ran on another): the web instances it replaces serve until
	// the new ones are up, as in a rollout.
	var fallback []app.Instance
	if !a.Stopped && rel.Static == "" && len(running["web"]) == 0 && formation["web"] > 0 {
		kept := extra[:0]
		for _, in := range extra {
			if in.Process == "web" && in.Running && in.Addr != "" {
				fallback = append(fallback, in)
			} else {
				kept = append(kept, in)
			}
		}
		extra = kept
	}
	// Route away from dead and extra instances first: a dial to an address
	// whose network namespace is gone hangs instead of failing. A static
	// site's files are mounted again if a reboot unmounted them.
	var errs []error
	if rel.Static != "" && !a.Stopped {
		site, err := n.mountSite(ctx, rel)
		if err == nil {
			err = n.routes.SetStatic(a.Name, site)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			n.retireSitesLater(a.Name, otherThan(rel))
		}
	} else if len(fallback) > 0 {
		n.routes.Set(a.Name, webAddrs(fallback))
	} else {
		n.routeWeb(ctx, a, rel, running["web"])
		n.retireSitesLater(a.Name, func(app.Site) bool { return true })
	}
	for _, in := range dead {
		n.stop(in.ID)
	}
	go n.retire(extra)
	if a.Stopped {
		return errors.Join(errs...)
	}

	for _, proc := range slices.Sorted(maps.Keys(formation)) {
		missing := formation[proc] - len(running[proc])
		if missing <= 0 || rel.Processes[proc] == "" || proc == "release" {
			continue
		}
		if err := n.haveImage(ctx, a, rel); err != nil {
			errs = append(errs, err)
			break
		}
		if m == modeHeal && !n.mayRestart(a.Name, proc) {
			continue
		}
		for i := 0; i < missing; i++ {
			in, err := n.startInstance(ctx, a, rel, proc, nil)
			if err != nil {
				if m == modeHeal {
					n.recordCrash(a.Name, proc, []string{err.Error()})
				}
				errs = append(errs, err)
				break
			}
			running[proc] = append(running[proc], in)
			if proc == "web" {
				n.routeWeb(ctx, a, rel, running["web"])
			}
		}
	}
	if len(fallback) > 0 && len(running["web"]) > 0 {
		go n.retire(fallback)
	}
	if len(errs) == 0 {
		n.log.Info("converged", "app", a.Name, "release", rel.Version, "formation", app.DescribeFormation(formation, rel))
	}
	return errors.Join(errs...)
}

// restoreSleep rebuilds a sleeping app's route after a daemon start: a
// frozen app keeps its paused instances (its route holds requests and
// resumes them), a stopped one has none.
func (n *Actuator) restoreSleep(ctx context.Context, a app.App, rel app.Release, have []app.Instance) error {
	var web []app.Instance
	for _, in := range have {
		if in.Release == rel.Version && in.Process == "web" && in.Running && a.Asleep == app.Frozen {
			web = append(web, in)
			continue
		}
		if in.Release != rel.Version || !in.Running || a.Asleep == app.Stopped {
			n.stop(in.ID)
		}
	}
	if a.Asleep == app.Frozen && len(web) == 0 {
		// The frozen processes are gone (a reboot): sleep on, stopped.
		if err := n.store.Apply(ctx, app.SetSleepState{App: a.Name, State: app.Stopped}); err != nil {
			return err
		}
	}
	n.routes.SetAsleep(a.Name, true)
	n.routes.Set(a.Name, webAddrs(web))
	return nil
}

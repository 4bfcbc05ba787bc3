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
		if in.Release == a.Release {
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
		current := in.Release == rel.Version && in.Image == rel.Image && rel.Processes[in.Process] != ""
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
	// A new release reaching this machine by the log (the deploy ran on
	// another): the previous release's web instances serve until the new
	// ones are up, as in a rollout.
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
			in, err := n.startInstance(ctx, a, rel, proc)
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

// routeWeb routes an app's web traffic to web, its instances running
// here; with none here, to the other machines of the cluster its web
// process runs on, if any.
//
// An app placed here that no other machine of its placement serves yet
// (it is moving here) is routed to whichever machines of the cluster
// still serve it, until its instances here are up.
func (n *Actuator) routeWeb(ctx context.Context, a app.App, rel app.Release, web []app.Instance) {
	if addrs := webAddrs(web); len(addrs) > 0 {
		n.routes.Set(a.Name, addrs)
		return
	}
	self := n.set.Self()
	var others []string
	if self != "" {
		want := app.FormationFor(a, rel)["web"]
		for _, m := range a.Placement {
			if m != self && app.Share(want, a.Placement, m) > 0 {
				others = append(others, m)
			}
		}
	}
	if len(others) > 0 {
		n.routes.SetRemote(a.Name, others)
		return
	}
	if self != "" && n.peers != nil && !a.Stopped {
		if serving := n.peers.Serving(ctx, a.Name, nil); len(serving) > 0 {
			n.routes.SetRemote(a.Name, serving)
			return
		}
	}
	n.routes.Set(a.Name, nil)
}

// haveImage makes sure rel's image is on this machine, fetching it from
// the other machines the app is placed on if it is not.
func (n *Actuator) haveImage(ctx context.Context, a app.App, rel app.Release) error {
	if n.images == nil {
		return nil
	}
	var from []string
	for _, m := range a.Placement {
		if m != n.set.Self() {
			from = append(from, m)
		}
	}
	return n.images.Fetch(ctx, rel.Image, from)
}

// runsElsewhere routes an app placed on other machines to them, then
// retires what of it runs here (the release it ran before it moved).
//
// An app moved by a placement alone (not by a deploy, which starts it
// where it goes before recording it) goes on being served here until one
// of the machines it moved to serves it, for up to moveTimeout.
func (n *Actuator) runsElsewhere(ctx context.Context, a app.App, nodes []string) {
	var here []app.Instance
	for _, in := range n.instancesOf(ctx, a.Name, func(app.Instance) bool { return true }) {
		if !n.isRetiring(in.ID) {
			here = append(here, in)
		}
	}
	if len(webAddrs(here)) > 0 && n.peers != nil && len(n.peers.Serving(ctx, a.Name, nodes)) == 0 {
		n.mu.Lock()
		moving := n.moving[a.Name]
		n.moving[a.Name] = true
		n.mu.Unlock()
		if !moving {
			n.log.Info("moves to other machines: serving here until they do", "app", a.Name, "nodes", nodes)
			go n.handOver(context.WithoutCancel(ctx), a.Name, nodes)
		}
		return
	}
	n.routes.SetRemote(a.Name, nodes)
	n.retireSitesLater(a.Name, func(app.Site) bool { return true })
	if len(here) > 0 {
		n.log.Info("runs on other machines: retiring its instances here", "app", a.Name, "nodes", nodes, "instances", len(here))
		go n.retire(here)
	}
}

// moveTimeout bounds how long an app that moved goes on being served here
// while the machines it moved to do not serve it.
const moveTimeout = 2 * time.Minute

// handOver waits until one of nodes serves app, then converges it here
// again: routed there, its instances here retired.
func (n *Actuator) handOver(ctx context.Context, name string, nodes []string) {
	defer func() {
		n.mu.Lock()
		delete(n.moving, name)
		n.mu.Unlock()
	}()
	deadline := time.Now().Add(moveTimeout)
	for len(n.peers.Serving(ctx, name, nodes)) == 0 && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	unlock := n.Lock(name)
	defer unlock()
	a, err := n.store.App(ctx, name)
	if err != nil {
		return
	}
	if nodes := app.PlacedElsewhere(a, n.set.Self()); nodes != nil {
		n.routes.SetRemote(a.Name, nodes)
		n.retireSitesLater(a.Name, func(app.Site) bool { return true })
		var here []app.Instance
		for _, in := range n.instancesOf(ctx, a.Name, func(app.Instance) bool { return true }) {
			if !n.isRetiring(in.ID) {
				here = append(here, in)
			}
		}
		n.log.Info("runs on other machines: retiring its instances here", "app", a.Name, "nodes", nodes, "instances", len(here))
		go n.retire(here)
	}
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

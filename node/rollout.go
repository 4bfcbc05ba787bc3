package node

import (
	"context"
	"fmt"
	"io"
	"maps"
	"pier/app"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Activation says how Activate makes a release live.
type Activation = app.Activation

// Activate makes rel the running release of a with zero downtime: it runs
// rel's release phase, starts the formation's
// instances next to the running ones, waits until every web instance passes
// its checks, calls act.Record (a new release is recorded then), moves the
// route, and retires the previous instances once their in-flight requests
// finished; then it runs the postdeploy script. A static site's files are
// mounted in place of starting web instances, and the route moves to them;
// sites of earlier releases are unmounted once drained. On any failure
// before the route moves, what was started or mounted for rel is removed
// and the previous release keeps serving. The caller holds the app's lock.
func (n *Actuator) Activate(ctx context.Context, a app.App, rel app.Release, act Activation) error {
	out := act.Out
	if out == nil {
		out = io.Discard
	}
	if act.Restart {
		n.clearCrashes(a.Name)
	}
	// A release built on another machine of the cluster comes from
	// there first.
	if err := n.haveImage(ctx, a, rel); err != nil {
		return err
	}
	formation := app.ShareOf(app.FormationFor(a, rel), a.Placement, n.set.Self())
	if app.PlacedElsewhere(a, n.set.Self()) != nil {
		formation = app.FormationFor(a, rel) // it moves here whole
	}
	if act.Only != "" {
		return n.restartType(ctx, a, rel, act.Only, formation[act.Only], out)
	}
	// The release phase runs at every activation; what it writes goes
	// with its container. (A predeploy script ran in the build: what it
	// wrote is in the image.)
	if cmd := rel.Processes["release"]; cmd != "" {
		fmt.Fprintf(out, "-----> Running release: %s\n", cmd)
		code, err := n.runtime.RunOnce(ctx, app.OneOffOf(a, rel, cmd, app.Indent(out)))
		if err != nil {
			return fmt.Errorf("release phase of v%d: %w", rel.Version, err)
		}
		if code != 0 {
			return fmt.Errorf("release phase of v%d failed (exit status %d); v%d was not released", rel.Version, code, rel.Version)
		}
	}
	old := n.instancesOf(ctx, a.Name, func(app.Instance) bool { return true })
	// A restart or a config change serves the same image's site on.
	hadSite := rel.Static != "" && len(n.sitesOf(ctx, a.Name, func(st app.Site) bool { return st.Image == rel.Image })) > 0
	var (
		started   []app.Instance
		startedAt time.Time // when they started: the settle window counts from then
		site      string    // the directory a static release is served from
	)
	// undo removes what was started for rel, if rel does not go live.
	undo := func() {
		for _, in := range started {
			n.stop(in.ID)
		}
		if site != "" && !hadSite {
			if err := n.sites.UnmountSite(context.WithoutCancel(ctx), rel.Image); err != nil {
				n.log.Warn("unmount site", "app", a.Name, "image", rel.Image, "err", err)
			}
		}
	}
	if a.Stopped {
		fmt.Fprintf(out, "-----> %s is stopped: v%d is recorded and starts with ps:start\n", a.Name, rel.Version)
	} else {
		var err error
		if rel.Static != "" {
			if site, err = n.mountSite(ctx, rel); err != nil {
				return err
			}
			fmt.Fprintf(out, "-----> Serving v%d as a static site: the router serves its files, no container runs for web\n", rel.Version)
		}
		if desc := app.DescribeFormation(formation, rel); desc != "" || rel.Static == "" {
			old = n.stopUnchecked(ctx, a, formation, old, out)
			fmt.Fprintf(out, "-----> Starting v%d: %s\n", rel.Version, desc)
			startedAt = time.Now()
			started, err = n.startAll(ctx, a, rel, formation, out)
			if err != nil {
				undo()
				n.convergeLater(context.WithoutCancel(ctx), a.Name) // what stopUnchecked stopped
				return err
			}
		}
	}
	// An app that runs on other machines moves here: the other machines'
	// routers send its requests here once rel is recorded, so this one
	// serves them from before.
	if elsewhere := app.PlacedElsewhere(a, n.set.Self()); elsewhere != nil && act.Record != nil && !a.Stopped && site == "" {
		n.routes.Set(a.Name, webAddrs(started))
		prev := undo
		undo = func() {
			n.routes.SetRemote(a.Name, elsewhere)
			prev()
		}
	}
	if act.Record != nil {
		if err := act.Record(ctx); err != nil {
			undo()
			return fmt.Errorf("record release v%d: %w", rel.Version, err)
		}
	}
	if !a.Stopped {
		if site != "" {
			if err := n.routes.SetStatic(a.Name, site); err != nil {
				return fmt.Errorf("route %s to the files of v%d: %w", a.Name, rel.Version, err)
			}
		} else {
			n.routeWeb(ctx, a, rel, started)
		}
		n.clearCrashes(a.Name)
		if a.Asleep != app.Awake {
			if err := n.store.Apply(ctx, app.SetSleepState{App: a.Name, State: app.Awake}); err != nil {
				n.log.Warn("record awake", "app", a.Name, "err", err)
			}
		}
		n.MarkAwake(a.Name)
		n.routes.SetAsleep(a.Name, false)
	}
	go n.retire(old)
	n.retireSitesLater(a.Name, otherThan(rel))
	n.settle(ctx, rel, started, startedAt, out)

	if cmd := rel.Manifest.Scripts.Postdeploy; cmd != "" && !a.Stopped {
		fmt.Fprintf(out, "-----> Running postdeploy: %s\n", cmd)
		code, err := n.runtime.RunOnce(ctx, app.OneOffOf(a, rel, cmd, app.Indent(out)))
		if err != nil || code != 0 {
			fmt.Fprintf(out, " !     postdeploy failed (exit status %d, %v); v%d is serving\n", code, err, rel.Version)
		}
	}
	return nil
}

// settle watches the instances a release started until Settle after
// they started, and tells out of any that exited: it passed its checks
// and then crashed, which heal's restarts would otherwise hide. The
// window counts from the start of the processes, not of the deploy, so a
// long release phase (a migration) does not use it up.
func (n *Actuator) settle(ctx context.Context, rel app.Release, started []app.Instance, began time.Time, out io.Writer) {
	if n.set.Settle <= 0 || len(started) == 0 {
		return
	}
	until := began.Add(n.set.Settle)
	for time.Now().Before(until) {
		if sleep(ctx, min(100*time.Millisecond, time.Until(until))) != nil {
			return
		}
		for _, in := range started {
			if ok, err := n.runtime.Running(ctx, in.ID); err == nil && !ok {
				fmt.Fprintf(out, " !     v%d passed its checks, then its %s process exited %.1fs after it started; it is restarted with growing delays\n",
					rel.Version, in.Process, time.Since(began).Seconds())
				if tail := n.runtime.Tail(rel.App, in.ID, 10); len(tail) > 0 {
					fmt.Fprintf(out, "       last output of %s:\n           %s\n", in.Process, strings.Join(tail, "\n           "))
				}
				fmt.Fprintf(out, "       logs %s shows more; releases:rollback %s goes back to the release before\n", rel.App, rel.App)
				return
			}
		}
	}
}

// stopUnchecked stops the old instances of the types whose checks are
// disabled (checks:disable), before their new ones start, and returns
// the rest of old.
func (n *Actuator) stopUnchecked(ctx context.Context, a app.App, formation map[string]int, old []app.Instance, out io.Writer) []app.Instance {
	var keep []app.Instance
	for _, in := range old {
		if _, ok := formation[in.Process]; ok && a.CheckMode(in.Process) == app.CheckDisabled {
			fmt.Fprintf(out, "-----> Stopping %s %s first: its checks are disabled (checks:enable %s)\n", in.Process, in.ID, a.Name)
			n.stop(in.ID)
			continue
		}
		keep = append(keep, in)
	}
	return keep
}

// restartType replaces the instances of one process type of a's running
// release rel with count fresh ones, with zero downtime for web.
func (n *Actuator) restartType(ctx context.Context, a app.App, rel app.Release, proc string, count int, out io.Writer) error {
	n.clearCrashes(a.Name)
	old := n.instancesOf(ctx, a.Name, func(in app.Instance) bool { return in.Process == proc })
	if count == 0 {
		return nil
	}
	old = n.stopUnchecked(ctx, a, map[string]int{proc: count}, old, out)
	fmt.Fprintf(out, "-----> Starting %s\n", app.DescribeFormation(map[string]int{proc: count}, rel))
	started, err := n.startAll(ctx, a, rel, map[string]int{proc: count}, out)
	if err != nil {
		for _, in := range started {
			n.stop(in.ID)
		}
		return err
	}
	if proc == "web" {
		n.routeWeb(ctx, a, rel, started)
	}
	go n.retire(old)
	return nil
}

// startAll starts every instance of the formation, concurrently, and
// returns once all run and every web instance passed its checks. On error it
// returns what it started, for the caller to stop.
func (n *Actuator) startAll(ctx context.Context, a app.App, rel app.Release, formation map[string]int, out io.Writer) ([]app.Instance, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started []app.Instance
		errs    []string
	)
	for _, proc := range slices.Sorted(maps.Keys(formation)) {
		if rel.Processes[proc] == "" || proc == "release" {
			continue
		}
		for i := 0; i < formation[proc]; i++ {
			wg.Add(1)
			go func(proc string) {
				defer wg.Done()
				in, err := n.startInstance(ctx, a, rel, proc, out)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					return
				}
				started = append(started, in)
			}(proc)
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		return started, fmt.Errorf("%s", errs[0])
	}
	return started, nil
}

// startInstance starts one instance of proc and, for web, waits until it
// passes its checks, telling out (nil: nobody) every few seconds what
// the checks saw while it does not answer yet. On failure the instance is gone and the error carries
// the end of its output.
func (n *Actuator) startInstance(ctx context.Context, a app.App, rel app.Release, proc string, out io.Writer) (app.Instance, error) {
	in := app.Instance{
		ID: instanceID(rel.App), App: rel.App, Release: rel.Version, Process: proc,
		Image: rel.Image, Command: rel.Processes[proc], Env: app.EnvList(rel.Config),
		Volumes: a.Volumes, Limits: app.LimitsFor(a, rel), Restart: a.Restarts,
	}
	if proc == "web" {
		in.Port = n.set.WebPort
		in.Env = append(in.Env, "PORT="+strconv.Itoa(n.set.WebPort))
	}
	in, err := n.runtime.Start(ctx, in)
	if err != nil {
		n.stop(in.ID)
		return app.Instance{}, fmt.Errorf("start %s of v%d: %w", proc, rel.Version, err)
	}
	if proc != "web" || a.CheckMode(proc) != "" { // checks:skip, checks:disable
		return in, nil
	}
	if err := n.waitHealthy(ctx, in, rel.Manifest.Healthchecks["web"], out); err != nil {
		tail := n.runtime.Tail(rel.App, in.ID, 20)
		n.stop(in.ID)
		msg := fmt.Sprintf("v%d did not become ready: %v", rel.Version, err)
		if len(tail) > 0 {
			msg += "\nlast output of web:\n    " + strings.Join(tail, "\n    ")
		}
		return app.Instance{}, fmt.Errorf("%s", msg)
	}
	return in, nil
}

// retire lets in-flight requests to old web instances finish (up to the
// drain limit), then stops every old instance: SIGTERM, SIGKILL after the
// runtime's stop timeout.
func (n *Actuator) retire(old []app.Instance) {
	var wg sync.WaitGroup
	n.mu.Lock()
	for _, in := range old {
		n.retiring[in.ID] = true
	}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		for _, in := range old {
			delete(n.retiring, in.ID)
		}
		n.mu.Unlock()
	}()
	for _, in := range old {
		wg.Add(1)
		go func(in app.Instance) {
			defer wg.Done()
			if in.Process == "web" && in.Addr != "" {
				// A request may have picked this address just before the route
				// moved; give it time to be counted, then wait for it.
				time.Sleep(n.set.Drain)
				ctx, cancel := context.WithTimeout(context.Background(), n.set.MaxDrain)
				n.routes.Drain(ctx, in.Addr)
				cancel()
			}
			n.stop(in.ID)
		}(in)
	}
	wg.Wait()
}

// isRetiring reports whether an instance is being drained and stopped: a
// converge leaves it to that.
func (n *Actuator) isRetiring(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.retiring[id]
}

func webAddrs(ins []app.Instance) []string {
	var addrs []string
	for _, in := range ins {
		if in.Process == "web" && in.Addr != "" {
			addrs = append(addrs, in.Addr)
		}
	}
	sort.Strings(addrs)
	return addrs
}

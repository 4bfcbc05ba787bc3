package node

import (
	"context"
	"fmt"
	"pier/app"
	"sort"
	"time"
)

// Wake brings a sleeping app back: a frozen app's processes are resumed, a
// stopped app's are started and health-checked. It returns once the app
// answers and its route is awake. The router calls it for the first request
// to a sleeping app; concurrent requests share one call.
func (n *Actuator) Wake(ctx context.Context, name string) error {
	a, unlock, err := n.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if a.Stopped {
		return fmt.Errorf("%s is stopped: run ps:start %s", name, name)
	}
	from := a.Asleep
	complete := false // a frozen app's processes all resumed
	if from == app.Frozen {
		complete = true
		ins := n.instancesOf(ctx, name, func(app.Instance) bool { return true })
		web := 0
		for _, in := range ins {
			if !in.Running {
				complete = false
				continue
			}
			if err := n.runtime.Resume(ctx, in.ID); err != nil {
				n.log.Warn("resume", "app", name, "instance", in.ID, "err", err)
				complete = false
			}
			if in.Process == "web" {
				web++
			}
		}
		complete = complete && web > 0
	}
	if from != app.Awake && !complete {
		// Start what is missing: everything for a stopped app, and for a
		// frozen one whatever died while it was frozen.
		a.Asleep = app.Awake
		if err := n.converge(ctx, a, modeUser); err != nil {
			return err
		}
	}
	if from != app.Awake {
		if err := n.store.Apply(ctx, app.SetSleepState{App: name, State: app.Awake}); err != nil {
			return err
		}
	}
	n.MarkAwake(name)
	n.routes.SetAsleep(name, false)
	n.log.Info("woke", "app", name, "from", string(from))
	return nil
}

// Sleep moves an awake or frozen app deeper. The route goes asleep first,
// so a request that arrives meanwhile waits for a wake (which takes the app's
// lock, held here) instead of reaching a paused process; if a request got
// through before that, the app is busy and stays awake. The caller holds the
// app's lock.
func (n *Actuator) Sleep(ctx context.Context, a app.App, to app.SleepState) error {
	if a.Asleep == to || a.Asleep == app.Stopped {
		return nil
	}
	n.routes.SetAsleep(a.Name, true)
	if inflight, _ := n.activity.Activity(a.Name); inflight > 0 {
		n.routes.SetAsleep(a.Name, a.Asleep != app.Awake)
		return nil
	}
	ins := n.instancesOf(ctx, a.Name, func(app.Instance) bool { return true })
	switch to {
	case app.Frozen:
		for _, in := range ins {
			if err := n.runtime.Pause(ctx, in.ID); err != nil {
				n.routes.SetAsleep(a.Name, false)
				return err
			}
		}
	case app.Stopped:
		n.routes.Set(a.Name, nil)
		for _, in := range ins {
			n.stop(in.ID)
		}
	}
	if err := n.store.Apply(ctx, app.SetSleepState{App: a.Name, State: to}); err != nil {
		return err
	}
	n.log.Info("asleep", "app", a.Name, "state", string(to), "instances", len(ins))
	return nil
}

// Idle runs until ctx ends, every tick putting idle apps to sleep by their
// policy — frozen after After without a request, stopped after StopAfter —
// and, while available memory is below the threshold, stopping frozen apps,
// least recently used first.
func (n *Actuator) Idle(ctx context.Context, tick time.Duration) {
	every(ctx, tick, func() { n.idleTick(ctx) })
}

func (n *Actuator) idleTick(ctx context.Context) {
	if n.activity == nil {
		return
	}
	apps, err := n.store.Apps(ctx)
	if err != nil {
		n.log.Warn("idle check", "err", err)
		return
	}
	type frozen struct {
		name string
		last time.Time
	}
	var sleepers []frozen
	for _, a := range apps {
		if a.Release == 0 || a.Stopped || a.Asleep == app.Stopped || a.Static {
			continue // a static site costs nothing idle: it never sleeps
		}
		if app.PlacedElsewhere(a, n.set.Self()) != nil || len(a.Placement) > 1 {
			// Its requests are counted where it runs; an app spread over
			// machines does not sleep (each counts only its own).
			continue
		}
		rel, err := n.store.Release(ctx, a.Name, a.Release)
		if err != nil {
			continue
		}
		pol := app.SleepPolicyFor(a, rel, n.set.Sleep)
		inflight, last := n.activity.Activity(a.Name)
		if since := n.awakeSince(a.Name); last.Before(since) {
			last = since
		}
		if a.Asleep == app.Frozen {
			sleepers = append(sleepers, frozen{a.Name, last})
		}
		if pol.Never || inflight > 0 {
			continue
		}
		idle := time.Since(last)
		var to app.SleepState
		switch {
		case idle >= pol.StopAfter:
			to = app.Stopped
		case idle >= pol.After && a.Asleep == app.Awake:
			to = app.Frozen
		default:
			continue
		}
		n.sleepIdle(ctx, a.Name, to)
	}
	if n.memory == nil || len(sleepers) == 0 {
		return
	}
	sort.Slice(sleepers, func(i, j int) bool { return sleepers[i].last.Before(sleepers[j].last) })
	for _, f := range sleepers {
		avail, total := n.memory()
		min := n.set.MinAvailable
		if min == 0 {
			min = total / 10
		}
		if avail >= min {
			return
		}
		n.log.Info("memory is short: stopping a frozen app", "app", f.name, "available", avail, "threshold", min)
		n.sleepIdle(ctx, f.name, app.Stopped)
	}
}

// sleepIdle re-reads the app under its lock and sleeps it.
func (n *Actuator) sleepIdle(ctx context.Context, name string, to app.SleepState) {
	a, unlock, err := n.locked(ctx, name)
	if err != nil {
		return
	}
	defer unlock()
	if a.Stopped || a.Release == 0 || a.Static {
		return
	}
	if err := n.Sleep(ctx, a, to); err != nil {
		n.log.Warn("sleep", "app", name, "err", err)
	}
}

// MarkAwake records that an app starts being awake now: idleness is
// counted from the later of this and its last request.
func (n *Actuator) MarkAwake(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.awake[name] = time.Now()
}

func (n *Actuator) awakeSince(name string) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.awake[name]
	if !ok {
		// Not seen since the daemon started: idle from now.
		t = time.Now()
		n.awake[name] = t
	}
	return t
}

// sleepLater puts an app to sleep on this machine, in the background,
// when the log says it sleeps (sleep:now on another machine) and it runs
// here and nowhere else, awake. If it cannot (a request is in flight), the
// log is told it is awake.
func (n *Actuator) sleepLater(ctx context.Context, name string, to app.SleepState) {
	self := n.set.Self()
	if self == "" {
		return // on one machine, whatever sleeps an app does it here
	}
	go func() {
		unlock := n.Lock(name)
		defer unlock()
		a, err := n.store.App(ctx, name)
		if err != nil || a.Asleep != to || len(a.Placement) != 1 || a.Placement[0] != self {
			return
		}
		if n.asleepHere(ctx, name, to) {
			return
		}
		a.Asleep = app.Awake // as far as this machine goes
		if err := n.Sleep(ctx, a, to); err != nil {
			n.log.Warn("sleep", "app", name, "err", err)
		}
		if !n.asleepHere(ctx, name, to) {
			if err := n.store.Apply(ctx, app.SetSleepState{App: name, State: app.Awake}); err != nil {
				n.log.Warn("sleep", "app", name, "err", err)
			}
		}
	}()
}

// asleepHere reports whether an app's instances here are as to says:
// all paused (frozen), or none (stopped).
func (n *Actuator) asleepHere(ctx context.Context, name string, to app.SleepState) bool {
	ins := n.instancesOf(ctx, name, func(app.Instance) bool { return true })
	if to == app.Stopped {
		return len(ins) == 0
	}
	for _, in := range ins {
		if !in.Paused {
			return false
		}
	}
	return len(ins) > 0
}

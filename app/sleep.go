package app

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Activity is what the router knows of an app's traffic: requests in flight
// (held ones, open WebSockets and streams included) and when the last one
// started or ended (zero if none since the router started).
type Activity interface {
	Activity(app string) (inflight int64, last time.Time)
}

// MemoryProbe reports the machine's available and total memory in bytes.
type MemoryProbe func() (available, total int64)

// Wake brings a sleeping app back: a frozen app's processes are resumed, a
// stopped app's are started and health-checked. It returns once the app
// answers and its route is awake. The router calls it for the first request
// to a sleeping app; concurrent requests share one call.
func (s *Service) Wake(ctx context.Context, name string) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if a.Stopped {
		return fmt.Errorf("%s is stopped: run ps:start %s", name, name)
	}
	from := a.Asleep
	complete := false // a frozen app's processes all resumed
	if from == Frozen {
		complete = true
		ins := s.instancesOf(ctx, name, func(Instance) bool { return true })
		web := 0
		for _, in := range ins {
			if !in.Running {
				complete = false
				continue
			}
			if err := s.runtime.Resume(ctx, in.ID); err != nil {
				s.log.Warn("resume", "app", name, "instance", in.ID, "err", err)
				complete = false
			}
			if in.Process == "web" {
				web++
			}
		}
		complete = complete && web > 0
	}
	if from != Awake && !complete {
		// Start what is missing: everything for a stopped app, and for a
		// frozen one whatever died while it was frozen.
		a.Asleep = Awake
		if err := s.converge(ctx, a, modeUser); err != nil {
			return err
		}
	}
	if from != Awake {
		if err := s.apply(ctx, SetSleepState{App: name, State: Awake}); err != nil {
			return err
		}
	}
	s.markAwake(name)
	s.routes.SetAsleep(name, false)
	s.log.Info("woke", "app", name, "from", string(from))
	return nil
}

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
	return s.sleep(ctx, a, to)
}

// SetSleepPolicy sets an app's own sleep policy (nil: back to app.json's or
// the defaults).
func (s *Service) SetSleepPolicy(ctx context.Context, name string, p *SleepPolicy) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	s.markAwake(name) // the new policy counts idleness from now
	err = s.apply(ctx, SetSleepPolicy{App: name, Policy: p})
	unlock()
	if err == nil && p != nil && p.Never && a.Asleep != Awake {
		return s.Wake(ctx, name) // "never sleep" wakes a sleeping app
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
	return s.sleepPolicy(a, rel), nil
}

// sleep moves an awake or frozen app deeper. The route goes asleep first,
// so a request that arrives meanwhile waits for a wake (which takes the app's
// lock, held here) instead of reaching a paused process; if a request got
// through before that, the app is busy and stays awake. The caller holds the
// app's lock.
func (s *Service) sleep(ctx context.Context, a App, to SleepState) error {
	if a.Asleep == to || a.Asleep == Stopped {
		return nil
	}
	s.routes.SetAsleep(a.Name, true)
	if inflight, _ := s.activity.Activity(a.Name); inflight > 0 {
		s.routes.SetAsleep(a.Name, a.Asleep != Awake)
		return nil
	}
	ins := s.instancesOf(ctx, a.Name, func(Instance) bool { return true })
	switch to {
	case Frozen:
		for _, in := range ins {
			if err := s.runtime.Pause(ctx, in.ID); err != nil {
				s.routes.SetAsleep(a.Name, false)
				return err
			}
		}
	case Stopped:
		s.routes.Set(a.Name, nil)
		for _, in := range ins {
			s.stop(in.ID)
		}
	}
	if err := s.apply(ctx, SetSleepState{App: a.Name, State: to}); err != nil {
		return err
	}
	s.log.Info("asleep", "app", a.Name, "state", string(to), "instances", len(ins))
	return nil
}

// Idle runs until ctx ends, every tick putting idle apps to sleep by their
// policy — frozen after After without a request, stopped after StopAfter —
// and, while available memory is below the threshold, stopping frozen apps,
// least recently used first.
func (s *Service) Idle(ctx context.Context, tick time.Duration) {
	every(ctx, tick, func() { s.idleTick(ctx) })
}

func (s *Service) idleTick(ctx context.Context) {
	if s.activity == nil {
		return
	}
	apps, err := s.store.Apps(ctx)
	if err != nil {
		s.log.Warn("idle check", "err", err)
		return
	}
	type frozen struct {
		name string
		last time.Time
	}
	var sleepers []frozen
	for _, a := range apps {
		if a.Release == 0 || a.Stopped || a.Asleep == Stopped || a.Static {
			continue // a static site costs nothing idle: it never sleeps
		}
		rel, err := s.store.Release(ctx, a.Name, a.Release)
		if err != nil {
			continue
		}
		pol := s.sleepPolicy(a, rel)
		inflight, last := s.activity.Activity(a.Name)
		if since := s.awakeSince(a.Name); last.Before(since) {
			last = since
		}
		if a.Asleep == Frozen {
			sleepers = append(sleepers, frozen{a.Name, last})
		}
		if pol.Never || inflight > 0 {
			continue
		}
		idle := time.Since(last)
		var to SleepState
		switch {
		case idle >= pol.StopAfter:
			to = Stopped
		case idle >= pol.After && a.Asleep == Awake:
			to = Frozen
		default:
			continue
		}
		s.sleepIdle(ctx, a.Name, to)
	}
	if s.memory == nil || len(sleepers) == 0 {
		return
	}
	sort.Slice(sleepers, func(i, j int) bool { return sleepers[i].last.Before(sleepers[j].last) })
	for _, f := range sleepers {
		avail, total := s.memory()
		min := s.set.MinAvailable
		if min == 0 {
			min = total / 10
		}
		if avail >= min {
			return
		}
		s.log.Info("memory is short: stopping a frozen app", "app", f.name, "available", avail, "threshold", min)
		s.sleepIdle(ctx, f.name, Stopped)
	}
}

// sleepIdle re-reads the app under its lock and sleeps it.
func (s *Service) sleepIdle(ctx context.Context, name string, to SleepState) {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return
	}
	defer unlock()
	if a.Stopped || a.Release == 0 || a.Static {
		return
	}
	if err := s.sleep(ctx, a, to); err != nil {
		s.log.Warn("sleep", "app", name, "err", err)
	}
}

// markAwake records that an app starts being awake now: idleness is
// counted from the later of this and its last request.
func (s *Service) markAwake(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.awake[name] = time.Now()
}

func (s *Service) awakeSince(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.awake[name]
	if !ok {
		// Not seen since the daemon started: idle from now.
		t = time.Now()
		s.awake[name] = t
	}
	return t
}

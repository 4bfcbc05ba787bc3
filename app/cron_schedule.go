package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// scheduler runs apps' cron entries on time. There is one per Service; its
// timers start with RunCron. Entries are replaced per app, as a whole, when
// a new release becomes current (setCron); runs in flight are tracked per
// entry for the concurrency policies. It is safe for concurrent use.
type scheduler struct {
	mu      sync.Mutex
	ctx     context.Context // RunCron's; nil until it starts
	apps    map[string]*appCron
	active  map[string]map[*activeRun]bool // by cronKey
	running sync.WaitGroup                 // runs in flight, so RunCron can wait for their records
	closed  bool                           // RunCron returns: no new runs
}

// appCron is one app's schedule: its entries and the timers' cancel.
type appCron struct {
	entries []CronEntry
	cancel  context.CancelFunc // nil while the scheduler is not running
}

// activeRun is a run in flight, cancellable by the replace policy.
type activeRun struct {
	cancel context.CancelCauseFunc
}

func newScheduler() *scheduler {
	return &scheduler{apps: map[string]*appCron{}, active: map[string]map[*activeRun]bool{}}
}

func cronKey(app, entry string) string { return app + "/" + entry }

// Causes a run's context ends with, which decide its recorded status.
var (
	errCronTimeout   = errors.New("timed out")
	errCronReplaced  = errors.New("replaced by a newer run")
	errCronDestroyed = errors.New("the app was destroyed or renamed")
)

// RunCron runs the cron scheduler until ctx ends: it marks runs left
// "running" by a previous daemon as interrupted, schedules every deployed
// app's entries from its current release, and fires them on time, whether
// or not the app's web process runs, sleeps or is stopped. Missed runs are
// not replayed. On return, runs in flight were killed and recorded as
// interrupted. Call it once.
func (s *Service) RunCron(ctx context.Context) error {
	if n, err := s.cronRuns.InterruptCronRuns(ctx, time.Now().UTC()); err != nil {
		return fmt.Errorf("cron: mark interrupted runs: %w", err)
	} else if n > 0 {
		s.log.Warn("cron runs cut off by a restart marked interrupted", "runs", n)
	}
	s.cron.mu.Lock()
	s.cron.ctx = ctx
	s.cron.mu.Unlock()

	apps, err := s.store.Apps(ctx)
	if err != nil {
		return fmt.Errorf("cron: %w", err)
	}
	for _, a := range apps {
		if a.Release == 0 {
			continue
		}
		// Under the app's lock, so a deploy finishing meanwhile is not
		// overwritten with the release it replaced.
		unlock := s.lock(a.Name)
		var rel Release
		if a, err = s.store.App(ctx, a.Name); err == nil {
			if rel, err = s.store.Release(ctx, a.Name, a.Release); err == nil {
				s.setCron(a.Name, rel.Cron)
			}
		}
		unlock()
		if err == nil {
			s.catchUp(ctx, a.Name, rel.Cron)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("cron: load schedule", "app", a.Name, "err", err)
		}
	}
	<-ctx.Done()
	s.cron.mu.Lock()
	s.cron.closed = true
	s.cron.mu.Unlock()
	s.cron.running.Wait()
	return nil
}

// catchUp fires, once, each entry that asks for it (Catchup) and missed a
// scheduled instant since its last scheduled run, as of that instant.
func (s *Service) catchUp(ctx context.Context, app string, entries []CronEntry) {
	for _, e := range entries {
		if !e.Catchup {
			continue
		}
		sched, err := s.cronp.schedule(e)
		if err != nil {
			continue
		}
		runs, err := s.cronRuns.CronRuns(ctx, app, e.ID, KeepCronRuns)
		if err != nil {
			s.log.Warn("cron: catch up", "app", app, "job", e.ID, "err", err)
			continue
		}
		i := slices.IndexFunc(runs, func(r CronRun) bool { return r.Trigger == TriggerSchedule })
		if i < 0 {
			continue // never ran on schedule: nothing was missed yet
		}
		missed := sched.Next(runs[i].Scheduled)
		if missed.IsZero() || !missed.Before(time.Now()) {
			continue
		}
		for next := sched.Next(missed); !next.IsZero() && next.Before(time.Now()); next = sched.Next(next) {
			missed = next // the latest missed instant
		}
		if !s.cron.add() {
			return
		}
		s.log.Info("cron: catching up a missed run", "app", app, "job", e.ID, "scheduled", missed)
		go func() {
			defer s.cron.running.Done()
			s.fire(ctx, app, e, missed)
		}()
	}
}

// setCron replaces app's entries (nil removes them all): the old timers stop,
// the new ones start. Runs in flight go on. The caller holds the app's lock,
// or is RunCron.
func (s *Service) setCron(app string, entries []CronEntry) {
	c := s.cron
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.apps[app]; old != nil && old.cancel != nil {
		old.cancel()
	}
	if len(entries) == 0 {
		delete(c.apps, app)
		return
	}
	ac := &appCron{entries: slices.Clone(entries)}
	c.apps[app] = ac
	if c.ctx == nil {
		return // RunCron loads the schedule from the store when it starts
	}
	ctx, cancel := context.WithCancel(c.ctx)
	ac.cancel = cancel
	for _, e := range ac.entries {
		sched, err := s.cronp.schedule(e)
		if err != nil { // validated on deploy; a daemon started without --cron-seconds may refuse a test's
			s.log.Warn("cron: entry not scheduled", "app", app, "job", e.ID, "err", err)
			continue
		}
		go s.tick(ctx, app, e, sched)
	}
}

// stopCron ends a destroyed (or renamed) app's schedule and kills its runs in flight.
// The caller holds the app's lock.
func (s *Service) stopCron(app string) {
	s.setCron(app, nil)
	c := s.cron
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, runs := range c.active {
		if strings.HasPrefix(key, app+"/") {
			for r := range runs {
				r.cancel(errCronDestroyed)
			}
		}
	}
}

// tick fires e at each instant of sched until ctx ends. If the daemon was
// late (a stopped clock, a suspended machine), the instants it missed are
// skipped, not replayed.
func (s *Service) tick(ctx context.Context, app string, e CronEntry, sched interface{ Next(time.Time) time.Time }) {
	t := time.Now()
	for {
		next := sched.Next(t)
		if next.IsZero() {
			return // a schedule that never fires, like Feb 30
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if !s.cron.add() {
			return
		}
		go func() {
			defer s.cron.running.Done()
			s.fire(ctx, app, e, next)
		}()
		t = next
		if now := time.Now(); sched.Next(t).Before(now) {
			t = now
		}
	}
}

// add counts a run about to start, unless RunCron is returning.
func (c *scheduler) add() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.running.Add(1)
	return true
}

// fire starts one scheduled run of e, unless the entry is suspended or its
// policy says to skip it. ctx is the schedule's: a replaced schedule no
// longer fires, but its runs in flight go on until the daemon stops.
func (s *Service) fire(ctx context.Context, app string, e CronEntry, at time.Time) {
	suspended, err := s.store.CronSuspended(ctx, app)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cron: read suspended entries", "app", app, "job", e.ID, "err", err)
		}
		return
	}
	if isSuspended(suspended, e.ID) {
		return
	}
	s.cron.mu.Lock()
	daemon := s.cron.ctx
	s.cron.mu.Unlock()
	_, err = s.runCron(daemon, app, e, TriggerSchedule, at, nil)
	switch {
	case errors.Is(err, ErrNotFound):
		// The app is gone: so is its schedule.
		unlock := s.lock(app)
		if _, err := s.store.App(ctx, app); errors.Is(err, ErrNotFound) {
			s.setCron(app, nil)
		}
		unlock()
	case err != nil && daemon.Err() == nil:
		s.log.Warn("cron: run", "app", app, "job", e.ID, "err", err)
	}
}

// begin registers a run of app's entry e under its concurrency policy:
// forbid refuses while another run of e is in flight; replace cancels those
// runs first. ok is false when the run must be skipped. Manual runs pass
// CronAllow: a person asked for them.
func (c *scheduler) begin(app, entry string, policy CronPolicy, r *activeRun) (ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cronKey(app, entry)
	runs := c.active[key]
	switch policy {
	case CronForbid:
		if len(runs) > 0 {
			return false
		}
	case CronReplace:
		for old := range runs {
			old.cancel(errCronReplaced)
		}
	}
	if runs == nil {
		runs = map[*activeRun]bool{}
		c.active[key] = runs
	}
	runs[r] = true
	return true
}

// end unregisters a run begin registered.
func (c *scheduler) end(app, entry string, r *activeRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cronKey(app, entry)
	delete(c.active[key], r)
	if len(c.active[key]) == 0 {
		delete(c.active, key)
	}
}

// isSuspended reports whether entry is in a suspended list ("*" is every entry).
func isSuspended(suspended []string, entry string) bool {
	return slices.Contains(suspended, "*") || slices.Contains(suspended, entry)
}

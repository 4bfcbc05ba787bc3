package cron

import (
	"context"
	"errors"
	"fmt"
	"pier/app"
	"slices"
	"strings"
	"time"
)

// appCron is one app's schedule: its entries and the timers' cancel.
type appCron struct {
	entries []app.CronEntry
	cancel  context.CancelFunc // nil while the scheduler is not running
}

// activeRun is a run in flight, cancellable by the replace policy.
type activeRun struct {
	cancel context.CancelCauseFunc
}

func cronKey(appName, entry string) string { return appName + "/" + entry }

// Causes a run's context ends with, which decide its recorded status.
var (
	errCronTimeout   = errors.New("timed out")
	errCronReplaced  = errors.New("replaced by a newer run")
	errCronDestroyed = errors.New("the appName was destroyed or renamed")
)

// Serve runs the scheduler until ctx ends: it marks runs left "running" by
// a previous daemon as interrupted, schedules every deployed app's entries
// from its current release (catching up those that ask for it), follows
// the applied changes from then on, and fires entries on time. Missed runs
// are not replayed. On return, runs in flight were killed and recorded as
// interrupted. Call it once.
func (c *Cron) Serve(ctx context.Context) error {
	changes := c.store.Watch(ctx) // before loading: no change falls between
	if n, err := c.runs.InterruptCronRuns(ctx, time.Now().UTC()); err != nil {
		return fmt.Errorf("cron: mark interrupted runs: %w", err)
	} else if n > 0 {
		c.log.Warn("cron runs cut off by a restart marked interrupted", "runs", n)
	}
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	if err := c.loadAll(ctx, true); err != nil {
		return err
	}
	c.follow(ctx, changes)
	<-ctx.Done()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.running.Wait()
	return nil
}

// loadAll schedules every deployed app's entries from its current release,
// and with catchUp fires the missed runs of those that ask for it.
func (c *Cron) loadAll(ctx context.Context, catchUp bool) error {
	apps, err := c.store.Apps(ctx)
	if err != nil {
		return fmt.Errorf("cron: %w", err)
	}
	for _, a := range apps {
		if entries, ok := c.loadApp(ctx, a.Name); ok && catchUp {
			c.catchUp(ctx, a.Name, entries)
		}
	}
	return nil
}

// loadApp schedules an app's entries from its current release, under the
// app's lock, so a deploy finishing meanwhile is not overwritten with the
// release it replaced.
func (c *Cron) loadApp(ctx context.Context, name string) ([]app.CronEntry, bool) {
	unlock := c.lock(name)
	defer unlock()
	a, err := c.store.App(ctx, name)
	if err != nil || a.Release == 0 {
		c.setCron(name, nil)
		return nil, false
	}
	rel, err := c.store.Release(ctx, name, a.Release)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cron: load schedule", "app", name, "err", err)
		}
		return nil, false
	}
	c.setCron(name, rel.Cron)
	return rel.Cron, true
}

// catchUp fires, once, each entry that asks for it (Catchup) and missed a
// scheduled instant since its last scheduled run, as of that instant.
func (c *Cron) catchUp(ctx context.Context, appName string, entries []app.CronEntry) {
	for _, e := range entries {
		if !e.Catchup {
			continue
		}
		sched, err := c.parser.Schedule(e)
		if err != nil {
			continue
		}
		runs, err := c.runs.CronRuns(ctx, appName, e.ID, app.KeepCronRuns)
		if err != nil {
			c.log.Warn("cron: catch up", "app", appName, "job", e.ID, "err", err)
			continue
		}
		i := slices.IndexFunc(runs, func(r app.CronRun) bool { return r.Trigger == app.TriggerSchedule })
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
		if !c.add() {
			return
		}
		c.log.Info("cron: catching up a missed run", "app", appName, "job", e.ID, "scheduled", missed)
		go func() {
			defer c.running.Done()
			c.fire(ctx, appName, e, missed)
		}()
	}
}

// setCron replaces an app's entries (nil removes them all): the old timers stop,
// the new ones start. Runs in flight go on.
func (c *Cron) setCron(appName string, entries []app.CronEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.apps[appName]; old != nil && old.cancel != nil {
		old.cancel()
	}
	if len(entries) == 0 {
		delete(c.apps, appName)
		return
	}
	ac := &appCron{entries: slices.Clone(entries)}
	c.apps[appName] = ac
	if c.ctx == nil {
		return // Serve loads the schedule from the store when it starts
	}
	ctx, cancel := context.WithCancel(c.ctx)
	ac.cancel = cancel
	for _, e := range ac.entries {
		sched, err := c.parser.Schedule(e)
		if err != nil { // validated on deploy; a daemon started without --cron-seconds may refuse a test's
			c.log.Warn("cron: entry not scheduled", "app", appName, "job", e.ID, "err", err)
			continue
		}
		go c.tick(ctx, appName, e, sched)
	}
}

// stopCron ends a destroyed (or renamed) app's schedule and kills its runs in flight.
// The caller holds the app's lock.
func (c *Cron) stopCron(appName string) {
	c.setCron(appName, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, runs := range c.active {
		if strings.HasPrefix(key, appName+"/") {
			for r := range runs {
				r.cancel(errCronDestroyed)
			}
		}
	}
}

// tick fires e at each instant of sched until ctx ends. If the daemon was
// late (a stopped clock, a suspended machine), the instants it missed are
// skipped, not replayed.
func (c *Cron) tick(ctx context.Context, appName string, e app.CronEntry, sched interface{ Next(time.Time) time.Time }) {
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
		if !c.add() {
			return
		}
		go func() {
			defer c.running.Done()
			c.fire(ctx, appName, e, next)
		}()
		t = next
		if now := time.Now(); sched.Next(t).Before(now) {
			t = now
		}
	}
}

// add counts a run about to start, unless Serve is returning.
func (c *Cron) add() bool {
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
func (c *Cron) fire(ctx context.Context, appName string, e app.CronEntry, at time.Time) {
	if !c.leads() {
		return // the cluster's leader fires it
	}
	suspended, err := c.store.CronSuspended(ctx, appName)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cron: read suspended entries", "app", appName, "job", e.ID, "err", err)
		}
		return
	}
	if isSuspended(suspended, e.ID) {
		return
	}
	c.mu.Lock()
	daemon := c.ctx
	c.mu.Unlock()
	_, err = c.runCron(daemon, appName, e, app.TriggerSchedule, at, nil)
	switch {
	case errors.Is(err, app.ErrNotFound):
		// The app is gone: so is its schedule.
		unlock := c.lock(appName)
		if _, err := c.store.App(ctx, appName); errors.Is(err, app.ErrNotFound) {
			c.setCron(appName, nil)
		}
		unlock()
	case err != nil && daemon.Err() == nil:
		c.log.Warn("cron: run", "app", appName, "job", e.ID, "err", err)
	}
}

// begin registers a run of an app's entry e under its concurrency policy
// and the machine's bound on runs at once, or says why the run must be
// skipped. forbid skips while another run of e is in flight; replace
// cancels those runs first, and so is not held back by the bound (the
// runs it replaces end). Past c.maxRuns runs in flight on this machine,
// any other run is skipped, as robfig/cron's SkipIfStillRunning skips: it
// is not queued, so a slow machine does not pile runs up. Manual runs pass
// CronAllow: a person asked for them, but the bound holds for them too.
func (c *Cron) begin(appName, entry string, policy app.CronPolicy, r *activeRun) (skip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cronKey(appName, entry)
	runs := c.active[key]
	replaces := false
	switch policy {
	case app.CronForbid:
		if len(runs) > 0 {
			return "the previous run still goes on (concurrency_policy forbid)"
		}
	case app.CronReplace:
		for old := range runs {
			old.cancel(errCronReplaced)
			replaces = true
		}
	}
	if !replaces && c.inFlight >= c.maxRuns {
		return fmt.Sprintf("%d cron runs already go on on this machine, the most at once (pier serve --max-cron-runs raises it)", c.inFlight)
	}
	if runs == nil {
		runs = map[*activeRun]bool{}
		c.active[key] = runs
	}
	runs[r] = true
	c.inFlight++
	return ""
}

// end unregisters a run begin registered.
func (c *Cron) end(appName, entry string, r *activeRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cronKey(appName, entry)
	if c.active[key][r] {
		c.inFlight--
	}
	delete(c.active[key], r)
	if len(c.active[key]) == 0 {
		delete(c.active, key)
	}
}

// isSuspended reports whether entry is in a suspended list ("*" is every entry).
func isSuspended(suspended []string, entry string) bool {
	return slices.Contains(suspended, "*") || slices.Contains(suspended, entry)
}

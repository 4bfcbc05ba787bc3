package cron

import (
	"context"
	"fmt"
	"io"
	"pier/app"
	"slices"
	"strings"
	"time"
)

// CronJobs lists the cron entries of an app's current release, sorted by ID.
func (c *Cron) CronJobs(ctx context.Context, name string) ([]app.CronJob, error) {
	a, err := c.load(ctx, name)
	if err != nil {
		return nil, err
	}
	if a.Release == 0 {
		return nil, nil
	}
	rel, err := c.store.Release(ctx, name, a.Release)
	if err != nil {
		return nil, err
	}
	suspended, err := c.store.CronSuspended(ctx, name)
	if err != nil {
		return nil, err
	}
	entries := slices.Clone(rel.Cron)
	slices.SortFunc(entries, func(a, b app.CronEntry) int { return strings.Compare(a.ID, b.ID) })
	jobs := make([]app.CronJob, 0, len(entries))
	now := time.Now()
	for _, e := range entries {
		j := app.CronJob{Entry: e, Suspended: isSuspended(suspended, e.ID)}
		if sched, err := c.parser.Schedule(e); err == nil && !j.Suspended {
			j.Next = sched.Next(now)
		}
		runs, err := c.runs.CronRuns(ctx, name, e.ID, app.KeepCronRuns)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if r.Status != app.RunSkipped {
				j.Last = &r
				break
			}
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// RunCronJob runs an app's cron entry now, in a fresh container of the
// current release, streaming its output to out, and returns its exit code.
// The run is recorded (trigger "manual"); it runs whatever the entry's
// policy and suspension say. Cancelling ctx kills it.
func (c *Cron) RunCronJob(ctx context.Context, name, id string, out io.Writer) (int, error) {
	e, err := c.cronEntry(ctx, name, id)
	if err != nil {
		return -1, err
	}
	if out == nil {
		out = io.Discard
	}
	run, err := c.runCron(ctx, name, e, app.TriggerManual, time.Now(), out)
	if err != nil {
		return -1, err
	}
	switch run.Status {
	case app.RunSucceeded, app.RunFailed:
		if run.ExitCode >= 0 {
			return run.ExitCode, nil
		}
	case app.RunInterrupted:
		return -1, ctx.Err()
	case app.RunSkipped:
		return -1, fmt.Errorf("%s %s: not run: %s; try again later", name, id, strings.TrimPrefix(strings.TrimSpace(run.Output), "pier: skipped: "))
	}
	return -1, fmt.Errorf("%s %s: %s", name, id, run.Status)
}

// CronHistory lists an app's recorded cron runs, newest first: the last
// app.KeepCronRuns of entry id, or the last 100 of all entries if id is "".
func (c *Cron) CronHistory(ctx context.Context, name, id string) ([]app.CronRun, error) {
	if id != "" {
		if _, err := c.cronEntry(ctx, name, id); err != nil {
			return nil, err
		}
	} else if _, err := c.load(ctx, name); err != nil {
		return nil, err
	}
	limit := app.KeepCronRuns
	if id == "" {
		limit = 100
	}
	return c.runs.CronRuns(ctx, name, id, limit)
}

// SuspendCron stops scheduling an app's entry id, or every entry if id is
// "" (until ResumeCron); runs in flight go on. It is recorded and survives
// restarts and deploys.
func (c *Cron) SuspendCron(ctx context.Context, name, id string) error {
	return c.changeSuspended(ctx, name, id, true)
}

// ResumeCron undoes SuspendCron for entry id, or for every entry if id is "".
func (c *Cron) ResumeCron(ctx context.Context, name, id string) error {
	return c.changeSuspended(ctx, name, id, false)
}

func (c *Cron) changeSuspended(ctx context.Context, name, id string, suspend bool) error {
	a, unlock, err := c.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	var entries []app.CronEntry
	if a.Release > 0 {
		rel, err := c.store.Release(ctx, name, a.Release)
		if err != nil {
			return err
		}
		entries = rel.Cron
	}
	if id != "" && !slices.ContainsFunc(entries, func(e app.CronEntry) bool { return e.ID == id }) {
		return app.NotFoundf("%s has no cron entry %q (cron:list %s lists them)", name, id, name)
	}
	cur, err := c.store.CronSuspended(ctx, name)
	if err != nil {
		return err
	}
	var next []string
	switch {
	case id == "" && suspend:
		next = []string{"*"}
	case id == "" && !suspend:
		next = nil
	case suspend:
		next = append(slices.Clone(cur), id)
	case slices.Contains(cur, "*"): // resume one of all: suspend the others
		for _, e := range entries {
			if e.ID != id {
				next = append(next, e.ID)
			}
		}
	default:
		next = slices.DeleteFunc(slices.Clone(cur), func(s string) bool { return s == id })
	}
	slices.Sort(next)
	next = slices.Compact(next)
	return c.store.Apply(ctx, app.SetCronSuspended{App: name, IDs: next})
}

// cronEntry finds entry id in app's current release.
func (c *Cron) cronEntry(ctx context.Context, name, id string) (app.CronEntry, error) {
	a, err := c.load(ctx, name)
	if err != nil {
		return app.CronEntry{}, err
	}
	if a.Release > 0 {
		rel, err := c.store.Release(ctx, name, a.Release)
		if err != nil {
			return app.CronEntry{}, err
		}
		for _, e := range rel.Cron {
			if e.ID == id {
				return e, nil
			}
		}
	}
	return app.CronEntry{}, app.NotFoundf("%s has no cron entry %q (cron:list %s lists them)", name, id, name)
}

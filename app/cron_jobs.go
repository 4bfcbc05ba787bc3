package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// SetCronSuspended replaces the IDs of an app's suspended cron entries; "*"
// suspends every entry, including ones later releases add.
type SetCronSuspended struct {
	App string
	IDs []string
}

func (SetCronSuspended) isChange() {}

// CronJob is what cron:list shows of one entry.
type CronJob struct {
	Entry     CronEntry
	Suspended bool
	// Next is the next scheduled run; zero when suspended.
	Next time.Time
	// Last is the newest run that was not skipped; nil if none.
	Last *CronRun
}

// CronJobs lists the cron entries of an app's current release, sorted by ID.
func (s *Service) CronJobs(ctx context.Context, name string) ([]CronJob, error) {
	a, err := s.App(ctx, name)
	if err != nil {
		return nil, err
	}
	if a.Release == 0 {
		return nil, nil
	}
	rel, err := s.store.Release(ctx, name, a.Release)
	if err != nil {
		return nil, err
	}
	suspended, err := s.store.CronSuspended(ctx, name)
	if err != nil {
		return nil, err
	}
	entries := slices.Clone(rel.Cron)
	slices.SortFunc(entries, func(a, b CronEntry) int { return strings.Compare(a.ID, b.ID) })
	jobs := make([]CronJob, 0, len(entries))
	now := time.Now()
	for _, e := range entries {
		j := CronJob{Entry: e, Suspended: isSuspended(suspended, e.ID)}
		if sched, err := s.cronp.schedule(e); err == nil && !j.Suspended {
			j.Next = sched.Next(now)
		}
		runs, err := s.cronRuns.CronRuns(ctx, name, e.ID, KeepCronRuns)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if r.Status != RunSkipped {
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
func (s *Service) RunCronJob(ctx context.Context, name, id string, out io.Writer) (int, error) {
	e, err := s.cronEntry(ctx, name, id)
	if err != nil {
		return -1, err
	}
	if out == nil {
		out = io.Discard
	}
	run, err := s.runCron(ctx, name, e, TriggerManual, time.Now(), out)
	if err != nil {
		return -1, err
	}
	switch run.Status {
	case RunSucceeded, RunFailed:
		if run.ExitCode >= 0 {
			return run.ExitCode, nil
		}
	case RunInterrupted:
		return -1, ctx.Err()
	}
	return -1, fmt.Errorf("%s %s: %s", name, id, run.Status)
}

// CronHistory lists an app's recorded cron runs, newest first: the last
// KeepCronRuns of entry id, or the last 100 of all entries if id is "".
func (s *Service) CronHistory(ctx context.Context, name, id string) ([]CronRun, error) {
	if id != "" {
		if _, err := s.cronEntry(ctx, name, id); err != nil {
			return nil, err
		}
	} else if _, err := s.App(ctx, name); err != nil {
		return nil, err
	}
	limit := KeepCronRuns
	if id == "" {
		limit = 100
	}
	return s.cronRuns.CronRuns(ctx, name, id, limit)
}

// SuspendCron stops scheduling an app's entry id, or every entry if id is
// "" (until ResumeCron); runs in flight go on. It is recorded and survives
// restarts and deploys.
func (s *Service) SuspendCron(ctx context.Context, name, id string) error {
	return s.changeSuspended(ctx, name, id, true)
}

// ResumeCron undoes SuspendCron for entry id, or for every entry if id is "".
func (s *Service) ResumeCron(ctx context.Context, name, id string) error {
	return s.changeSuspended(ctx, name, id, false)
}

func (s *Service) changeSuspended(ctx context.Context, name, id string, suspend bool) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	var entries []CronEntry
	if a.Release > 0 {
		rel, err := s.store.Release(ctx, name, a.Release)
		if err != nil {
			return err
		}
		entries = rel.Cron
	}
	if id != "" && !slices.ContainsFunc(entries, func(e CronEntry) bool { return e.ID == id }) {
		return notFoundf("%s has no cron entry %q (cron:list %s lists them)", name, id, name)
	}
	cur, err := s.store.CronSuspended(ctx, name)
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
	return s.apply(ctx, SetCronSuspended{App: name, IDs: next})
}

// cronEntry finds entry id in app's current release.
func (s *Service) cronEntry(ctx context.Context, name, id string) (CronEntry, error) {
	a, err := s.App(ctx, name)
	if err != nil {
		return CronEntry{}, err
	}
	if a.Release > 0 {
		rel, err := s.store.Release(ctx, name, a.Release)
		if err != nil {
			return CronEntry{}, err
		}
		for _, e := range rel.Cron {
			if e.ID == id {
				return e, nil
			}
		}
	}
	return CronEntry{}, notFoundf("%s has no cron entry %q (cron:list %s lists them)", name, id, name)
}

package cron

import (
	"context"
	"errors"
	"fmt"
	"io"
	"pier/app"
	"time"
)

// runCron runs e once in a fresh one-off container of app's current release
// (its image, config, volumes and limits), under e's concurrency policy and
// timeout, records the run, and returns it. out, if not nil, gets the output
// as it comes. Cancelling ctx kills the run (recorded as interrupted).
// A skipped run returns with Status app.RunSkipped, the reason in its
// Output, and no error.
func (c *Cron) runCron(ctx context.Context, name string, e app.CronEntry, trigger string, at time.Time, out io.Writer) (app.CronRun, error) {
	a, err := c.load(ctx, name)
	if err != nil {
		return app.CronRun{}, err
	}
	rel, err := c.store.Release(ctx, name, a.Release)
	if err != nil {
		return app.CronRun{}, err
	}
	now := time.Now().UTC()
	run := app.CronRun{App: name, Entry: e.ID, Command: e.Command, Trigger: trigger,
		Scheduled: at.UTC(), Started: now, ExitCode: -1, Status: app.RunRunning}
	policy := e.PolicyOrDefault()
	if trigger == app.TriggerManual {
		policy = app.CronAllow
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	active := &activeRun{cancel: cancel}
	if skip := c.begin(name, e.ID, policy, active); skip != "" {
		run.Status, run.Ended, run.Output = app.RunSkipped, now, "pier: skipped: "+skip+"\n"
		c.log.Info("cron: run skipped", "app", name, "job", e.ID, "reason", skip)
		_, err := c.runs.StartCronRun(context.WithoutCancel(ctx), run)
		return run, err
	}
	defer c.end(name, e.ID, active)
	if run.ID, err = c.runs.StartCronRun(ctx, run); err != nil {
		return app.CronRun{}, fmt.Errorf("record cron run: %w", err)
	}

	tail := &tailBuffer{max: app.MaxCronOutput}
	var w io.Writer = tail
	if out != nil {
		w = io.MultiWriter(tail, out)
	}
	runCtx, stop := context.WithTimeoutCause(ctx, e.TimeoutOrDefault(), errCronTimeout)
	code, err := c.oneOffs.RunOnce(runCtx, app.OneOffOf(a, rel, e.Command, w))
	cause := context.Cause(runCtx)
	stop()
	run.Ended, run.ExitCode = time.Now().UTC(), code
	switch {
	case err == nil && code == 0:
		run.Status = app.RunSucceeded
	case err == nil:
		run.Status = app.RunFailed
	case errors.Is(cause, errCronTimeout):
		run.Status, run.ExitCode = app.RunTimedOut, -1
		fmt.Fprintf(w, "pier: killed after the timeout of %s\n", e.TimeoutOrDefault())
	case errors.Is(cause, errCronReplaced):
		run.Status, run.ExitCode = app.RunReplaced, -1
		fmt.Fprintln(w, "pier: killed: replaced by a newer run (concurrency_policy replace)")
	case cause != nil:
		run.Status, run.ExitCode = app.RunInterrupted, -1
	default:
		run.Status, run.ExitCode = app.RunFailed, -1
		fmt.Fprintf(w, "pier: %v\n", err)
	}
	run.Output = tail.String()
	if run.Status != app.RunSucceeded {
		c.log.Warn("cron job did not succeed", "app", name, "job", e.ID, "status", run.Status,
			"exit", run.ExitCode, "trigger", trigger, "took", run.Ended.Sub(run.Started).Round(time.Millisecond))
	}
	if ferr := c.runs.FinishCronRun(context.WithoutCancel(ctx), run); ferr != nil {
		return run, fmt.Errorf("record cron run: %w", ferr)
	}
	return run, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t.cut {
		return "[output cut: the last 64 KiB follow]\n" + string(t.b)
	}
	return string(t.b)
}

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// CronRun is one run of a cron entry: observed state, recorded through
// CronRuns, not through apply.
type CronRun struct {
	ID      int64
	App     string
	Entry   string // CronEntry.ID
	Command string
	Trigger string // TriggerSchedule or TriggerManual
	// Scheduled is the instant the schedule named (Started for manual runs).
	Scheduled time.Time
	Started   time.Time
	Ended     time.Time // zero while running
	// ExitCode is the command's exit status; -1 if it has none (not started,
	// killed, skipped).
	ExitCode int
	Status   string
	// Output is the end of what the run printed (stdout and stderr), at most
	// MaxCronOutput bytes.
	Output string
}

// Triggers of a run.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// Statuses of a run.
const (
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunFailed      = "failed"      // non-zero exit, or the container could not run
	RunTimedOut    = "timed out"   // killed at the entry's timeout
	RunReplaced    = "replaced"    // killed by a newer run (concurrency_policy replace)
	RunInterrupted = "interrupted" // the daemon stopped or died, or the caller went away
	RunSkipped     = "skipped"     // due while the previous run went on (concurrency_policy forbid)
)

// Bounds of the run history.
const (
	// MaxCronOutput is how much of a run's output is kept: the last 64 KiB.
	MaxCronOutput = 64 << 10
	// KeepCronRuns is how many runs per entry are kept.
	KeepCronRuns = 50
)

// CronRuns keeps the history of cron runs. It is observed state: writes do
// not go through Service.apply. Implementations keep at most KeepCronRuns
// runs per entry, dropping the oldest.
type CronRuns interface {
	// StartCronRun records a run (running, or already finished such as a
	// skip) and returns its ID.
	StartCronRun(ctx context.Context, r CronRun) (int64, error)
	// FinishCronRun records the end of run r.ID: Ended, ExitCode, Status, Output.
	FinishCronRun(ctx context.Context, r CronRun) error
	// CronRuns lists an app's runs, newest first: of one entry, or of all
	// if entry is ""; at most limit.
	CronRuns(ctx context.Context, app, entry string, limit int) ([]CronRun, error)
	// InterruptCronRuns marks every run still "running" as interrupted,
	// ended at, and says how many there were.
	InterruptCronRuns(ctx context.Context, at time.Time) (int, error)
}

// runCron runs e once in a fresh one-off container of app's current release
// (its image, config, volumes and limits), under e's concurrency policy and
// timeout, records the run, and returns it. out, if not nil, gets the output
// as it comes. Cancelling ctx kills the run (recorded as interrupted).
// A skipped run returns with Status RunSkipped and no error.
func (s *Service) runCron(ctx context.Context, name string, e CronEntry, trigger string, at time.Time, out io.Writer) (CronRun, error) {
	a, err := s.load(ctx, name)
	if err != nil {
		return CronRun{}, err
	}
	rel, err := s.store.Release(ctx, name, a.Release)
	if err != nil {
		return CronRun{}, err
	}
	now := time.Now().UTC()
	run := CronRun{App: name, Entry: e.ID, Command: e.Command, Trigger: trigger,
		Scheduled: at.UTC(), Started: now, ExitCode: -1, Status: RunRunning}
	policy := e.policy()
	if trigger == TriggerManual {
		policy = CronAllow
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	active := &activeRun{cancel: cancel}
	if !s.cron.begin(name, e.ID, policy, active) {
		run.Status, run.Ended = RunSkipped, now
		s.log.Info("cron: run skipped: the previous run still goes on (concurrency_policy forbid)", "app", name, "job", e.ID)
		_, err := s.cronRuns.StartCronRun(context.WithoutCancel(ctx), run)
		return run, err
	}
	defer s.cron.end(name, e.ID, active)
	if run.ID, err = s.cronRuns.StartCronRun(ctx, run); err != nil {
		return CronRun{}, fmt.Errorf("record cron run: %w", err)
	}

	tail := &tailBuffer{max: MaxCronOutput}
	var w io.Writer = tail
	if out != nil {
		w = io.MultiWriter(tail, out)
	}
	runCtx, stop := context.WithTimeoutCause(ctx, e.timeout(), errCronTimeout)
	code, err := s.node.RunOnce(runCtx, OneOffOf(a, rel, e.Command, w))
	cause := context.Cause(runCtx)
	stop()
	run.Ended, run.ExitCode = time.Now().UTC(), code
	switch {
	case err == nil && code == 0:
		run.Status = RunSucceeded
	case err == nil:
		run.Status = RunFailed
	case errors.Is(cause, errCronTimeout):
		run.Status, run.ExitCode = RunTimedOut, -1
		fmt.Fprintf(w, "pier: killed after the timeout of %s\n", e.timeout())
	case errors.Is(cause, errCronReplaced):
		run.Status, run.ExitCode = RunReplaced, -1
		fmt.Fprintln(w, "pier: killed: replaced by a newer run (concurrency_policy replace)")
	case cause != nil:
		run.Status, run.ExitCode = RunInterrupted, -1
	default:
		run.Status, run.ExitCode = RunFailed, -1
		fmt.Fprintf(w, "pier: %v\n", err)
	}
	run.Output = tail.String()
	if run.Status != RunSucceeded {
		s.log.Warn("cron job did not succeed", "app", name, "job", e.ID, "status", run.Status,
			"exit", run.ExitCode, "trigger", trigger, "took", run.Ended.Sub(run.Started).Round(time.Millisecond))
	}
	if ferr := s.cronRuns.FinishCronRun(context.WithoutCancel(ctx), run); ferr != nil {
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

package app

import (
	"context"
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
	RunSkipped     = "skipped"     // not run: the previous one went on (concurrency_policy forbid), or the machine ran its most; Output says which
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

// CronJob is what cron:list shows of one entry.
type CronJob struct {
	Entry     CronEntry
	Suspended bool
	// Next is the next scheduled run; zero when suspended.
	Next time.Time
	// Last is the newest run that was not skipped; nil if none.
	Last *CronRun
}

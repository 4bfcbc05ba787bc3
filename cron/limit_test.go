package cron_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// TestCronRunsBounded checks that entries whose runs never end cannot pile
// up containers: an entry due every second with concurrency_policy allow,
// beside another, runs at most MaxRuns at once on the machine; the runs
// due past it are skipped and recorded with the reason, and a run asked
// for by hand is refused with it.
func TestCronRunsBounded(t *testing.T) {
	svc, _, r := cronServiceMax(t, 2,
		app.CronEntry{ID: "pile", Schedule: "* * * * * *", Command: "block"},
		app.CronEntry{ID: "other", Schedule: "@yearly", Command: "block"},
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	waitStart(t, r)
	waitStart(t, r)
	var skipped []app.CronRun
	for deadline := time.Now().Add(20 * time.Second); len(skipped) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no run of pile skipped; runs: %+v", runs(t, svc, "pile"))
		}
		for _, run := range runs(t, svc, "pile") {
			if run.Status == app.RunSkipped {
				skipped = append(skipped, run)
			}
		}
	}
	if want := "pier: skipped: 2 cron runs already go on on this machine, the most at once (pier serve --max-cron-runs raises it)"; !strings.Contains(skipped[0].Output, want) {
		t.Errorf("skipped run's output: got %q, want %q", skipped[0].Output, want)
	}

	runCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	_, err := svc.RunCronJob(runCtx, "hello", "other", nil)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "hello other: not run: 2 cron runs already go on") {
		t.Fatalf("cron:run past the bound: got %v, want a refusal naming the bound", err)
	}
	select {
	case c := <-r.started:
		t.Fatalf("a third run (%s) started past the bound of 2", c)
	default:
	}
}

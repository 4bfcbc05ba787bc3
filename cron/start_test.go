package cron_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"pier/app"
)

func TestStartCronJob(t *testing.T) {
	svc, _, r := cronService(t, app.CronEntry{ID: "report", Schedule: "@yearly", Command: "block"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := svc.StartCronJob(ctx, "hello", "report"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("before the scheduler runs: got %v, want a refusal", err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for svc.StartCronJob(ctx, "hello", "report") != nil {
		if time.Now().After(deadline) {
			t.Fatal("StartCronJob never succeeded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := waitStart(t, r); got != "block" {
		t.Fatalf("started %q", got)
	}
	if err := svc.StartCronJob(ctx, "hello", "nope"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("an unknown entry: got %v, want ErrNotFound", err)
	}
	// The run outlives the caller's request; the scheduler's end interrupts it.
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	rs := runs(t, svc, "report")
	if len(rs) != 1 || rs[0].Trigger != app.TriggerManual || rs[0].Status != app.RunInterrupted {
		t.Fatalf("runs: %+v, want one manual run, interrupted", rs)
	}
}

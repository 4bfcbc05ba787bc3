package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"pier/app"
)

func TestReleaseCronRoundTrips(t *testing.T) {
	s := openTest(t)
	r := release("web", 1)
	r.Cron = []app.CronEntry{
		{ID: "cron1", Schedule: "*/5 * * * *", Command: "python3 batch.py"},
		{ID: "report", Schedule: "0 9 * * *", Command: "x", Policy: app.CronForbid, Timeout: 30 * time.Minute, Timezone: "Europe/Berlin"},
	}
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}}, app.PutRelease{Release: r})
	got, err := s.Release(context.Background(), "web", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Cron, r.Cron) {
		t.Errorf("got %+v, want %+v", got.Cron, r.Cron)
	}
}

func TestCronSuspended(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})
	for _, ids := range [][]string{{"b", "a"}, {"*"}, nil} {
		mustApply(t, s, app.SetCronSuspended{App: "web", IDs: ids})
		got, err := s.CronSuspended(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		want := ids
		if len(ids) == 2 {
			want = []string{"a", "b"}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if err := s.Apply(ctx, app.SetCronSuspended{App: "nope", IDs: []string{"a"}}); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("suspend on a missing app: %v, want ErrNotFound", err)
	}
}

// Runs are recorded, finished, kept to the newest KeepCronRuns per entry,
// and those left running are marked interrupted.
func TestCronRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})
	run := func(entry string, i int) app.CronRun {
		return app.CronRun{App: "web", Entry: entry, Command: "x", Trigger: app.TriggerSchedule,
			Scheduled: t0.Add(time.Duration(i) * time.Second), Started: t0.Add(time.Duration(i) * time.Second),
			ExitCode: -1, Status: app.RunRunning}
	}
	var last int64
	for i := 0; i < app.KeepCronRuns+5; i++ {
		id, err := s.StartCronRun(ctx, run("a", i))
		if err != nil {
			t.Fatal(err)
		}
		r := run("a", i)
		r.ID, r.Ended, r.ExitCode, r.Status, r.Output = id, r.Started.Add(time.Second), i%2, app.RunSucceeded, "out\n"
		if err := s.FinishCronRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		last = id
	}
	if _, err := s.StartCronRun(ctx, run("b", 0)); err != nil {
		t.Fatal(err)
	}
	a, err := s.CronRuns(ctx, "web", "a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != app.KeepCronRuns || a[0].ID != last || a[0].Output != "out\n" || a[0].Ended.IsZero() || !a[0].Started.Equal(t0.Add(54*time.Second)) {
		t.Errorf("runs of a: %d, newest %+v; want %d, newest finished", len(a), a[0], app.KeepCronRuns)
	}
	all, err := s.CronRuns(ctx, "web", "", 1000)
	if err != nil || len(all) != app.KeepCronRuns+1 || all[0].Entry != "b" {
		t.Errorf("all runs: %d (%v), want %d with b first", len(all), err, app.KeepCronRuns+1)
	}
	n, err := s.InterruptCronRuns(ctx, t0)
	if err != nil || n != 1 {
		t.Fatalf("interrupted %d (%v), want 1", n, err)
	}
	b, _ := s.CronRuns(ctx, "web", "b", 10)
	if len(b) != 1 || b[0].Status != app.RunInterrupted || !b[0].Ended.Equal(t0) {
		t.Errorf("b after interrupt: %+v", b)
	}
	if _, err := s.StartCronRun(ctx, app.CronRun{App: "nope", Entry: "a", Trigger: app.TriggerManual, Status: app.RunRunning}); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("run of a missing app: %v, want ErrNotFound", err)
	}
}

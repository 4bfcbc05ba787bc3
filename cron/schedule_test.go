package cron_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/app"
	"pier/cron"
	"pier/store"
)

// runner is a one-off runner whose RunOnce runs no container (the policies are
// about timing and cancellation; the end-to-end tests run real ones): the
// command "block" runs until cancelled, "exit N" exits N, "spam" prints
// 100 KiB, anything else exits 0. Other methods are not called.
type runner struct {
	mu      sync.Mutex
	started chan string // each command as it starts
}

func (r *runner) RunOnce(ctx context.Context, o app.OneOff) (int, error) {
	r.started <- o.Command
	fmt.Fprintf(o.Out, "running %s\n", o.Command)
	switch {
	case o.Command == "block":
		<-ctx.Done()
		return -1, ctx.Err()
	case o.Command == "spam":
		o.Out.Write([]byte(strings.Repeat("x", 100<<10) + "END\n"))
	case strings.HasPrefix(o.Command, "exit "):
		var n int
		fmt.Sscan(strings.TrimPrefix(o.Command, "exit "), &n)
		return n, nil
	}
	return 0, nil
}

// cronService is a Cron over a real store with a deployed app "hello"
// whose release has entries.
func cronService(t *testing.T, entries ...app.CronEntry) (*cron.Cron, *store.Store, *runner) {
	t.Helper()
	return cronServiceMax(t, 0, entries...)
}

// cronServiceMax is cronService with Deps.MaxRuns max.
func cronServiceMax(t *testing.T, max int, entries ...app.CronEntry) (*cron.Cron, *store.Store, *runner) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.Apply(ctx, app.CreateApp{App: app.App{Name: "hello", CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	rel := app.Release{App: "hello", Version: 1, Image: "img", Processes: map[string]string{"web": "x"}, Cron: entries, CreatedAt: time.Now()}
	if err := st.Apply(ctx, app.PutRelease{Release: rel}); err != nil {
		t.Fatal(err)
	}
	r := &runner{started: make(chan string, 100)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var mu sync.Mutex
	lock := func(string) func() { mu.Lock(); return mu.Unlock }
	svc := cron.New(cron.Deps{Store: st, Runs: st, OneOffs: r, Lock: lock, Log: log, Seconds: true, MaxRuns: max})
	return svc, st, r
}

func runs(t *testing.T, svc *cron.Cron, id string) []app.CronRun {
	t.Helper()
	rs, err := svc.CronHistory(context.Background(), "hello", id)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func waitStart(t *testing.T, r *runner) string {
	t.Helper()
	select {
	case c := <-r.started:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no run started")
		return ""
	}
}

func TestCronRunOutcomes(t *testing.T) {
	svc, _, r := cronService(t,
		app.CronEntry{ID: "ok", Schedule: "@yearly", Command: "true"},
		app.CronEntry{ID: "fail", Schedule: "@yearly", Command: "exit 3"},
		app.CronEntry{ID: "slow", Schedule: "@yearly", Command: "block", Timeout: 50 * time.Millisecond},
		app.CronEntry{ID: "spam", Schedule: "@yearly", Command: "spam"},
	)
	ctx := context.Background()
	for _, tc := range []struct {
		id, status string
		code       int
	}{{"ok", app.RunSucceeded, 0}, {"fail", app.RunFailed, 3}, {"slow", app.RunTimedOut, -1}, {"spam", app.RunSucceeded, 0}} {
		var out strings.Builder
		code, err := svc.RunCronJob(ctx, "hello", tc.id, &out)
		if tc.status == app.RunTimedOut {
			if err == nil || !strings.Contains(err.Error(), "timed out") {
				t.Errorf("%s: got %d, %v; want a timed-out error", tc.id, code, err)
			}
		} else if err != nil || code != tc.code {
			t.Errorf("%s: got %d, %v; want exit %d", tc.id, code, err, tc.code)
		}
		if !strings.Contains(out.String(), "running") {
			t.Errorf("%s: output not streamed: %q", tc.id, out.String())
		}
		<-r.started
		rs := runs(t, svc, tc.id)
		if len(rs) != 1 {
			t.Fatalf("%s: recorded %d runs, want 1", tc.id, len(rs))
		}
		if rs[0].Status != tc.status || rs[0].ExitCode != tc.code || rs[0].Trigger != app.TriggerManual || rs[0].Ended.IsZero() {
			t.Errorf("%s: recorded %s exit %d (%s), want a manual run %s with exit %d", tc.id, rs[0].Status, rs[0].ExitCode, rs[0].Trigger, tc.status, tc.code)
		}
	}
	spam := runs(t, svc, "spam")[0].Output
	if len(spam) > app.MaxCronOutput+100 || !strings.HasSuffix(spam, "END\n") || !strings.HasPrefix(spam, "[output cut") {
		t.Errorf("spam output kept %d bytes, ending %q: want the last 64 KiB", len(spam), spam[max(0, len(spam)-10):])
	}
	if _, err := svc.RunCronJob(ctx, "hello", "nope", io.Discard); err == nil || !strings.Contains(err.Error(), `no cron entry "nope"`) {
		t.Errorf("unknown entry: %v", err)
	}
}

// The scheduler fires on time, honours forbid and replace and suspension,
// and marks runs a dead daemon left "running" as interrupted.
func TestCronScheduler(t *testing.T) {
	svc, st, r := cronService(t,
		app.CronEntry{ID: "forbid", Schedule: "* * * * * *", Command: "block", Policy: app.CronForbid},
		app.CronEntry{ID: "replace", Schedule: "* * * * * *", Command: "block", Policy: app.CronReplace},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A run left "running" by a daemon that died.
	if _, err := st.StartCronRun(ctx, app.CronRun{App: "hello", Entry: "forbid", Command: "block", Trigger: app.TriggerSchedule,
		Scheduled: time.Now(), Started: time.Now(), ExitCode: -1, Status: app.RunRunning}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SuspendCron(ctx, "hello", "replace"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()

	// forbid: the first run blocks; the next instants are skipped.
	waitStart(t, r)
	time.Sleep(2200 * time.Millisecond)
	rs := runs(t, svc, "forbid")
	count := map[string]int{}
	for _, run := range rs {
		count[run.Status]++
	}
	if count[app.RunInterrupted] != 1 || count[app.RunRunning] != 1 || count[app.RunSkipped] < 1 {
		t.Errorf("forbid runs: %v, want 1 interrupted, 1 running and skips", count)
	}
	select {
	case c := <-r.started:
		t.Errorf("a second run (%s) started while forbid's first runs, or replace ran while suspended", c)
	default:
	}

	// replace: each instant kills the previous run.
	if err := svc.SuspendCron(ctx, "hello", "forbid"); err != nil {
		t.Fatal(err)
	}
	if err := svc.ResumeCron(ctx, "hello", "replace"); err != nil {
		t.Fatal(err)
	}
	waitStart(t, r)
	waitStart(t, r)
	time.Sleep(100 * time.Millisecond)
	var replaced int
	for _, run := range runs(t, svc, "replace") {
		if run.Status == app.RunReplaced {
			replaced++
		}
	}
	if replaced < 1 {
		t.Errorf("replace runs: %+v, want one replaced", runs(t, svc, "replace"))
	}

	// Stopping the daemon interrupts the runs in flight and records them.
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	for _, run := range runs(t, svc, "") {
		if run.Status == app.RunRunning {
			t.Errorf("run %d of %s still running after the daemon stopped", run.ID, run.Entry)
		}
	}
	jobs, err := svc.CronJobs(context.Background(), "hello")
	if err != nil || len(jobs) != 2 || !jobs[0].Suspended || jobs[1].Suspended || jobs[1].Next.IsZero() || jobs[1].Last == nil {
		t.Errorf("cron:list: %+v, %v", jobs, err)
	}
}

// An entry with catchup that missed instants while pier was down runs once
// at start, as of the latest missed instant; one without does not.
func TestCronCatchup(t *testing.T) {
	svc, st, r := cronService(t,
		app.CronEntry{ID: "daily", Schedule: "0 3 * * *", Command: "true", Catchup: true},
		app.CronEntry{ID: "nocatch", Schedule: "0 3 * * *", Command: "true"},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := time.Now().Add(-72 * time.Hour)
	for _, id := range []string{"daily", "nocatch"} {
		if _, err := st.StartCronRun(ctx, app.CronRun{App: "hello", Entry: id, Command: "true", Trigger: app.TriggerSchedule,
			Scheduled: long, Started: long, Ended: long, ExitCode: 0, Status: app.RunSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	waitStart(t, r)
	time.Sleep(300 * time.Millisecond)
	daily := runs(t, svc, "daily")
	if len(daily) != 2 || daily[0].Status != app.RunSucceeded || daily[0].Trigger != app.TriggerSchedule ||
		time.Since(daily[0].Scheduled) > 24*time.Hour || daily[0].Scheduled.Hour() != 3 && daily[0].Scheduled.Local().Hour() != 3 {
		t.Errorf("daily runs: %+v; want one caught up, as of the latest 03:00", daily)
	}
	if n := len(runs(t, svc, "nocatch")); n != 1 {
		t.Errorf("nocatch has %d runs, want 1 (no catch-up)", n)
	}
	cancel()
	<-done
}

// The schedule follows changes whoever applies them: a release recorded
// while the scheduler runs brings its entries, a destroy ends them and
// kills the runs in flight.
func TestCronFollowsAppliedChanges(t *testing.T) {
	svc, st, r := cronService(t) // v1 has no entries
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	time.Sleep(100 * time.Millisecond) // Serve has loaded v1's empty schedule

	rel := app.Release{App: "hello", Version: 2, Image: "img", Processes: map[string]string{"web": "x"}, CreatedAt: time.Now(),
		Cron: []app.CronEntry{{ID: "tick", Schedule: "* * * * * *", Command: "block"}}}
	if err := st.Apply(ctx, app.PutRelease{Release: rel}); err != nil {
		t.Fatal(err)
	}
	if got := waitStart(t, r); got != "block" {
		t.Fatalf("started %q, want v2's entry", got)
	}
	if err := st.Apply(ctx, app.DestroyApp{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rs, _ := st.CronRuns(ctx, "hello", "tick", 10)
		if len(rs) > 0 && rs[0].Status != app.RunRunning || len(rs) == 0 {
			break // the run in flight was killed (or its record went with the app)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run of a destroyed app goes on: %+v", rs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	select {
	case c := <-r.started:
		t.Errorf("a destroyed app's entry fired again (%s)", c)
	default:
	}
	cancel()
	<-done
}

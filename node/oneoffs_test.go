package node

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// TestOneOffsBounded checks that `run` cannot start containers without
// end: past MaxOneOffsPerApp of one app, and past the machine's bound of
// every app's together, a one-off is refused at once with a message
// that says how many run and what to do; one ending frees its slot.
func TestOneOffsBounded(t *testing.T) {
	r := newRig(t)
	r.act = New(Settings{MaxOneOffs: 4}, Deps{Store: r.store, Runtime: r.rt, Routes: r.rtr, Log: r.act.log})
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	started := 0
	start := func(appName string) {
		started++
		go r.act.RunOnce(ctx, app.OneOff{App: appName, Command: "block", Out: io.Discard})
		// Wait until the runtime has it: then its slot is taken.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			r.rt.mu.Lock()
			n := len(r.rt.oneOffs)
			r.rt.mu.Unlock()
			if n == started {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("one-off %d of %s never started", started, appName)
			}
		}
	}
	refused := func(appName, want string) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := r.act.RunOnce(ctx, app.OneOff{App: appName, Command: "block", Out: io.Discard})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || err.Error() != want {
				t.Fatalf("%s's one-off past the bound: got %v, want %q", appName, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s's one-off past the bound started (or waits); want it refused at once", appName)
		}
	}
	for range MaxOneOffsPerApp {
		start("hello")
	}
	refused("hello", fmt.Sprintf("hello runs %d one-off containers already (run, cron jobs), the most for one app; wait for one to end, or end it, and try again", MaxOneOffsPerApp))
	start("other")
	refused("third", "this machine runs 4 one-off containers already (run, cron jobs), the most at once (pier serve --max-one-offs raises it); wait for one to end and try again")
	if got := len(r.act.oneOffs.byApp); got != 2 {
		t.Errorf("apps counted: got %d, want 2", got)
	}
	cancel()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r.act.oneOffs.mu.Lock()
		total, apps := r.act.oneOffs.total, len(r.act.oneOffs.byApp)
		r.act.oneOffs.mu.Unlock()
		if total == 0 && apps == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the runs ended: %d counted for %d apps, want none", total, apps)
		}
	}
	if _, err := r.act.RunOnce(r.ctx, app.OneOff{App: "third", Command: "true", Out: io.Discard}); err != nil && strings.Contains(err.Error(), "one-off") {
		t.Errorf("a one-off after the others ended: %v", err)
	}
}

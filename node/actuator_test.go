package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/app"
)

// A new release takes traffic only once healthy; the old one keeps serving
// until then, and is stopped after the switch.
func TestRolloutSwitchesWhenHealthy(t *testing.T) {
	r := newRig(t)
	r.create("hello")
	if err := r.deploy(release("hello", 1, "one")); err != nil {
		t.Fatal(err)
	}
	if code, body := r.get("hello"); code != 200 || !strings.HasPrefix(body, "one ") {
		t.Fatalf("v1: got %d %q, want 200 from image one", code, body)
	}
	if err := r.deploy(release("hello", 2, "two")); err != nil {
		t.Fatal(err)
	}
	if code, body := r.get("hello"); code != 200 || !strings.HasPrefix(body, "two ") {
		t.Fatalf("v2: got %d %q, want 200 from image two", code, body)
	}
	r.eventually("v1 stopped", func() bool { return fmt.Sprint(r.rt.running("hello")) == "[web two]" })
	if a, _ := r.store.App(r.ctx, "hello"); a.Release != 2 {
		t.Errorf("current release %d, want 2", a.Release)
	}
}

// A release whose web process fails its health check is not recorded, what
// was started for it is stopped, and the previous release keeps serving.
func TestFailedHealthCheckKeepsOldRelease(t *testing.T) {
	r := newRig(t)
	r.create("hello")
	if err := r.deploy(release("hello", 1, "one")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ image, want string }{
		{"bad", "did not become ready"},
		{"dies", "exited"},
	} {
		recorded := false
		a, _ := r.store.App(r.ctx, "hello")
		unlock := r.act.Lock("hello")
		err := r.act.Activate(r.ctx, a, release("hello", 2, tc.image), app.Activation{Record: func(context.Context) error {
			recorded = true
			return nil
		}})
		unlock()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got %v, want an error saying %q", tc.image, err, tc.want)
		}
		if recorded {
			t.Errorf("%s: the failed release was recorded", tc.image)
		}
		if code, body := r.get("hello"); code != 200 || !strings.HasPrefix(body, "one ") {
			t.Errorf("%s: got %d %q, want v1 serving", tc.image, code, body)
		}
		if got := fmt.Sprint(r.rt.running("hello")); got != "[web one]" {
			t.Errorf("%s: running %s, want only v1", tc.image, got)
		}
	}
	// A failing release phase stops the rollout before anything starts.
	rel := release("hello", 2, "two")
	rel.Processes["release"] = "fail migrate"
	if err := r.deploy(rel); err == nil || !strings.Contains(err.Error(), "release phase of v2 failed") {
		t.Errorf("release phase: got %v", err)
	}
	if got := fmt.Sprint(r.rt.running("hello")); got != "[web one]" {
		t.Errorf("after a failed release phase running %s, want only v1", got)
	}
}

// A release that passes its checks and then crashes in its first moments
// makes the push say so, even after a release phase longer than the
// settle window: the window counts from the processes' start.
func TestEarlyCrashReported(t *testing.T) {
	r := newRig(t)
	r.act.set.Settle = 400 * time.Millisecond
	r.create("hello")
	rel := release("hello", 1, "crashes")
	rel.Processes["release"] = "sleep 600ms"
	a, _ := r.store.App(r.ctx, "hello")
	var out strings.Builder
	unlock := r.act.Lock("hello")
	err := r.act.Activate(r.ctx, a, rel, app.Activation{Out: &out, Record: func(ctx context.Context) error {
		return r.store.Apply(ctx, app.PutRelease{Release: rel})
	}})
	unlock()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"v1 passed its checks, then its web process exited", "last words of", "releases:rollback hello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("push output lacks %q:\n%s", want, out.String())
		}
	}
}

// Requests in flight to the old release finish before it is stopped.
func TestRolloutDrainsOldInstances(t *testing.T) {
	r := newRig(t)
	r.create("hello")
	if err := r.deploy(release("hello", 1, "slow")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]string, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := r.get("hello")
			results[i] = fmt.Sprintf("%d %s", code, strings.Fields(body + " x")[0])
		}()
	}
	time.Sleep(100 * time.Millisecond) // the requests are in flight to v1
	if err := r.deploy(release("hello", 2, "two")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, res := range results {
		if res != "200 slow" {
			t.Errorf("a request in flight during the switch got %q, want 200 from v1", res)
		}
	}
	r.eventually("v1 stopped after its requests", func() bool { return fmt.Sprint(r.rt.running("hello")) == "[web two]" })
}

// After a daemon restart (a new actuator over the same store), Reconcile
// starts what should run, routes it, and stops what belongs to no app.
func TestReconcileAfterRestart(t *testing.T) {
	r := newRig(t)
	r.create("hello")
	rel := release("hello", 1, "one")
	rel.Processes["worker"] = "work"
	r.apply(app.PutRelease{Release: rel})
	r.apply(app.SetFormation{App: "hello", Formation: map[string]int{"web": 2, "worker": 1}})
	stale, _ := r.rt.Start(r.ctx, app.Instance{ID: "gone-1", App: "gone", Process: "web", Image: "x"})

	if err := r.act.Reconcile(r.ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(r.rt.running("hello")); got != "[web one web one worker one]" {
		t.Errorf("running %s, want 2 web and 1 worker of v1", got)
	}
	if ok, _ := r.rt.Running(r.ctx, stale.ID); ok {
		t.Error("an instance of an app that does not exist kept running")
	}
	if code, body := r.get("hello"); code != 200 || !strings.HasPrefix(body, "one ") {
		t.Errorf("got %d %q, want v1 routed", code, body)
	}
}

// A process that keeps dying is restarted at once the first time, then
// after a growing delay; its crashes are reported.
func TestCrashBackoff(t *testing.T) {
	r := newRig(t)
	r.create("hello")
	rel := release("hello", 1, "one")
	rel.Processes = map[string]string{"worker": "work"}
	r.apply(app.PutRelease{Release: rel})
	r.apply(app.SetFormation{App: "hello", Formation: map[string]int{"worker": 1}})
	if err := r.act.Reconcile(r.ctx); err != nil {
		t.Fatal(err)
	}
	killAll := func() {
		ins, _ := r.rt.AppInstances(r.ctx, "hello")
		for _, in := range ins {
			r.rt.kill(in.ID)
		}
	}
	heal := func() {
		if err := r.act.reconcile(r.ctx, modeHeal); err != nil {
			t.Fatal(err)
		}
	}
	killAll()
	heal() // first crash: restarted at once
	if got := fmt.Sprint(r.rt.running("hello")); got != "[worker one]" {
		t.Fatalf("after the first crash running %s, want the worker again", got)
	}
	killAll()
	heal() // second crash: backoff of 1s
	if got := r.rt.running("hello"); len(got) != 0 {
		t.Fatalf("restarted at once after a second crash: %v", got)
	}
	c, ok := r.act.Crash("hello", "worker")
	if !ok || c.Count != 2 || time.Until(c.Next) <= 0 || len(c.LastOutput) == 0 {
		t.Fatalf("crash record %+v %v, want 2 crashes, a restart due later, and the last output", c, ok)
	}
	time.Sleep(time.Until(c.Next))
	heal()
	if got := fmt.Sprint(r.rt.running("hello")); got != "[worker one]" {
		t.Errorf("after the backoff running %s, want the worker again", got)
	}
	// A user's ps:start or ps:scale starts afresh.
	unlock := r.act.Lock("hello")
	err := r.act.Converge(r.ctx, "hello")
	unlock()
	if _, ok := r.act.Crash("hello", "worker"); err != nil || ok {
		t.Errorf("after a converge asked by a user: err %v, crash record kept %v", err, ok)
	}
}

// An idle app is frozen, then stopped; a request to it is held, not
// answered 502, while it wakes, and concurrent requests share one wake.
func TestSleepAndWakeHoldRequests(t *testing.T) {
	r := newRig(t)
	r.create("hello")
	if err := r.deploy(release("hello", 1, "one")); err != nil {
		t.Fatal(err)
	}
	for _, to := range []app.SleepState{app.Frozen, app.Stopped} {
		a, _ := r.store.App(r.ctx, "hello")
		unlock := r.act.Lock("hello")
		err := r.act.Sleep(r.ctx, a, to)
		unlock()
		if err != nil {
			t.Fatal(err)
		}
		a, _ = r.store.App(r.ctx, "hello")
		if a.Asleep != to {
			t.Fatalf("asleep %q, want %q", a.Asleep, to)
		}
		ins, _ := r.rt.AppInstances(r.ctx, "hello")
		switch {
		case to == app.Frozen && (len(ins) != 1 || !ins[0].Paused):
			t.Fatalf("frozen: instances %+v, want one paused", ins)
		case to == app.Stopped && len(ins) != 0:
			t.Fatalf("stopped: instances %+v, want none", ins)
		}
		starts := r.rt.starts
		var wg sync.WaitGroup
		codes := make([]int, 4)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = r.get("hello")
			}()
		}
		wg.Wait()
		if fmt.Sprint(codes) != "[200 200 200 200]" {
			t.Errorf("%s: held requests got %v, want all 200", to, codes)
		}
		a, _ = r.store.App(r.ctx, "hello")
		if a.Asleep != app.Awake {
			t.Errorf("%s: after the wake asleep is %q", to, a.Asleep)
		}
		if to == app.Stopped && r.rt.starts != starts+1 {
			t.Errorf("stopped: %d instances started for 4 requests, want 1 (one shared wake)", r.rt.starts-starts)
		}
		ins, _ = r.rt.AppInstances(r.ctx, "hello")
		if len(ins) != 1 || ins[0].Paused {
			t.Errorf("%s: after the wake instances %+v, want one running", to, ins)
		}
	}
}

// A change applied by any writer, not through the use-cases, converges the
// machine: the router learns domains, and formation, ps:stop and destroy
// reach the instances.
func TestWatchConvergesChangesFromAnyWriter(t *testing.T) {
	r := newRig(t)
	r.watch()
	r.create("hello")
	r.apply(app.PutRelease{Release: release("hello", 1, "one")})
	r.eventually("v1 started from the recorded release", func() bool { return fmt.Sprint(r.rt.running("hello")) == "[web one]" })
	r.eventually("v1 routed", func() bool { code, _ := r.get("hello"); return code == 200 })

	r.apply(app.AddDomain{App: "hello", Domain: "www.example.com"})
	if err := r.act.Sync(r.ctx); err != nil {
		t.Fatal(err)
	}
	code, body := r.getHost("www.example.com")
	if !strings.HasPrefix(body, "one ") {
		t.Errorf("the custom domain right after Sync: got %d %q", code, body)
	}

	r.apply(app.SetFormation{App: "hello", Formation: map[string]int{"web": 3}})
	r.eventually("scaled to 3", func() bool { return fmt.Sprint(r.rt.running("hello")) == "[web one web one web one]" })

	r.apply(app.PutRelease{Release: release("hello", 2, "two")})
	r.eventually("v2 replaced v1", func() bool {
		return fmt.Sprint(r.rt.running("hello")) == "[web two web two web two]"
	})

	r.apply(app.SetStopped{App: "hello", Stopped: true})
	r.eventually("stopped", func() bool { return len(r.rt.running("hello")) == 0 })

	r.apply(app.SetStopped{App: "hello", Stopped: false})
	r.eventually("started again", func() bool { return len(r.rt.running("hello")) == 3 })

	r.apply(app.DestroyApp{Name: "hello"})
	r.eventually("destroyed", func() bool { return len(r.rt.running("hello")) == 0 })
	if code, _ := r.getHost("www.example.com"); code != 404 {
		t.Errorf("a destroyed app's domain got %d, want 404", code)
	}
}

// A restart recorded on another machine reaches this one by the log: it
// replaces every instance it started before, and the app answers
// throughout.
func TestWatchRestartsFromTheLog(t *testing.T) {
	r := newRig(t)
	r.watch()
	r.create("hello")
	r.apply(app.PutRelease{Release: release("hello", 1, "one")})
	r.apply(app.SetFormation{App: "hello", Formation: map[string]int{"web": 2}})
	r.eventually("two instances", func() bool { return len(r.rt.running("hello")) == 2 })
	r.eventually("routed", func() bool { code, _ := r.get("hello"); return code == 200 })
	before := map[string]bool{}
	for _, in := range r.act.Instances(r.ctx, "hello") {
		before[in.ID] = true
	}
	r.apply(app.RestartApp{App: "hello"})
	var failed int
	r.eventually("every instance replaced", func() bool {
		if code, _ := r.get("hello"); code != 200 {
			failed++
		}
		ins := r.act.Instances(r.ctx, "hello")
		if len(ins) != 2 {
			return false
		}
		for _, in := range ins {
			if before[in.ID] || in.Restart != 1 {
				return false
			}
		}
		return true
	})
	if failed > 0 {
		t.Errorf("%d requests failed during the restart", failed)
	}
	// Settled: the next converge replaces nothing.
	ids := func() string {
		var out []string
		for _, in := range r.act.Instances(r.ctx, "hello") {
			out = append(out, in.ID)
		}
		slices.Sort(out) // the runtime lists them in no order
		return strings.Join(out, " ")
	}
	after := ids()
	if err := r.act.Converge(r.ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if again := ids(); again != after {
		t.Errorf("a converge after the restart replaced instances again:\n%s\n%s", after, again)
	}
}

// A state that comes whole (a machine joined or left a cluster) leaves no
// route of an app it lacks.
func TestResyncDropsRoutesOfAppsGone(t *testing.T) {
	r := newRig(t)
	r.watch()
	r.create("hello")
	r.apply(app.PutRelease{Release: release("hello", 1, "one")})
	r.eventually("routed", func() bool { code, _ := r.get("hello"); return code == 200 })
	if err := r.store.Reset(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.eventually("no route of hello", func() bool { code, _ := r.get("hello"); return code == 404 })
	r.eventually("no instance of hello", func() bool { return len(r.rt.running("hello")) == 0 })
}

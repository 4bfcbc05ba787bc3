package runtime_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"pier/app"
	"pier/builder"
	"pier/runtime"
	"pier/runtime/runtimetest"
)

// What a process writes to its root is bounded, in disk blocks and in
// files: one past a limit is stopped and its log or output says why; one
// within it, or with a large sparse file that takes no disk, runs on.
func TestDiskLimit(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	rt.SetDiskLimits(8<<20, 64<<20)
	ctx := context.Background()
	start := func(id, command string) app.Instance {
		t.Helper()
		in, err := rt.Start(ctx, app.Instance{ID: id, App: "disk", Release: 1, Process: "worker",
			Image: builder.DefaultBase, Command: command})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	start("disk-big", "dd if=/dev/zero of=/var/tmp/big bs=1M count=16 2>/dev/null; echo written; exec sleep 1000")
	start("disk-files", "mkdir /var/tmp/d && cd /var/tmp/d && seq 1 100010 | xargs touch && echo written; exec sleep 1000")
	start("disk-sparse", "truncate -s 1G /var/tmp/sparse && echo written; exec sleep 1000")
	start("disk-small", "dd if=/dev/zero of=/var/tmp/small bs=1M count=2 2>/dev/null; echo written; exec sleep 1000")

	running := func() map[string]bool {
		list, err := rt.Instances(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, in := range list {
			m[in.ID] = in.Running
		}
		return m
	}
	written := func(id string) bool { return strings.Contains(strings.Join(rt.Tail("disk", id, 5), "\n"), "written") }
	deadline := time.Now().Add(60 * time.Second)
	for !(written("disk-big") && written("disk-files") && written("disk-sparse") && written("disk-small")) {
		if time.Now().After(deadline) {
			t.Fatal("the processes did not write in a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := rt.CheckDisk(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); running()["disk-big"] || running()["disk-files"]; {
		if time.Now().After(deadline) {
			t.Fatalf("processes over their limit still run: %v", running())
		}
		time.Sleep(100 * time.Millisecond)
	}
	now := running()
	if !now["disk-sparse"] || !now["disk-small"] {
		t.Fatalf("processes within their limit were stopped: %v", now)
	}
	for id, want := range map[string]string{"disk-big": "wrote more than 8 MiB", "disk-files": "created more than 100000 files"} {
		if log := strings.Join(rt.Tail("disk", id, 5), "\n"); !strings.Contains(log, want) {
			t.Errorf("%s's log does not say why it was stopped (%q):\n%s", id, want, log)
		}
	}

	// A one-off's output says it, and the run fails.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
				rt.CheckDisk(ctx)
			}
		}
	}()
	var out strings.Builder
	code, _ := rt.RunOnce(ctx, app.OneOff{App: "disk", Image: builder.DefaultBase, Out: &out,
		Command: "dd if=/dev/zero of=/var/tmp/big bs=1M count=16 2>/dev/null; sleep 60"})
	if code == 0 || !strings.Contains(out.String(), "wrote more than 8 MiB") {
		t.Fatalf("one-off over its limit: exit %d, output %q", code, out.String())
	}

	// So does a build's.
	ws, err := rt.Prepare(ctx, builder.DefaultBase, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Discard(ctx)
	out.Reset()
	code, _ = ws.Run(ctx, runtime.RunSpec{Args: []string{"/bin/sh", "-c", "dd if=/dev/zero of=/var/tmp/big bs=1M count=80 2>/dev/null; sleep 60"}, Out: &out})
	if code == 0 || !strings.Contains(out.String(), "the build wrote more than its limit (64 MiB") {
		t.Fatalf("build over its limit: exit %d, output %q", code, out.String())
	}
}

package runtime_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
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

// A build runs under its memory and CPU limits and a small CPU weight, so
// that the apps beside it come first.
func TestBuildLimits(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	ws, err := rt.Prepare(ctx, builder.DefaultBase, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Discard(ctx)
	var out syncBuilder
	done := make(chan error, 1)
	go func() {
		_, err := ws.Run(ctx, runtime.RunSpec{Out: &out, Args: []string{"/bin/sh", "-c", "cat /proc/self/cgroup; echo end; sleep 30"}})
		done <- err
	}()
	for !strings.Contains(out.String(), "end") {
		select {
		case err := <-done:
			t.Fatalf("the build ended: %v: %s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The build's cgroup, read on the host: v2's files, else v1's.
	_, err = os.Stat("/sys/fs/cgroup/cgroup.controllers")
	v2 := err == nil
	group := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && (v2 && f[0] == "0" || !v2 && f[1] == "memory") {
			group = f[2]
		}
	}
	if group == "" {
		t.Fatalf("no cgroup in %q", out.String())
	}
	read := func(controller, file string) string {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, group, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	cores := max(1, goruntime.NumCPU()-1)
	var got, want []string
	if v2 {
		got = []string{read("", "memory.max"), read("", "cpu.max"), read("", "cpu.weight")}
		want = []string{fmt.Sprint(1 << 30), fmt.Sprintf("%d 100000", cores*100000), "4"}
	} else {
		got = []string{read("memory", "memory.limit_in_bytes"), read("cpu", "cpu.cfs_quota_us"), read("cpu", "cpu.shares")}
		want = []string{fmt.Sprint(1 << 30), fmt.Sprint(cores * 100000), "102"}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("a build's memory limit, CPU quota and CPU weight: %q, want %q", got, want)
	}
}

// syncBuilder is a strings.Builder safe for one writer and one reader.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

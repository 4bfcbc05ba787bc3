package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/containerd/pkg/apparmor"

	"pier/app"
	"pier/builder"
	"pier/runtime/runtimetest"
)

// Short one-offs, many at once and sharing a shim: every run returns its
// exit code with all it printed, on stdout and stderr, even while the
// machine is busy with the others.
func TestOneOffsKeepTheirOutput(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	const runs = 24
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out strings.Builder
			code, err := rt.RunOnce(ctx, app.OneOff{App: "oneoffs", Image: builder.DefaultBase,
				Command: fmt.Sprintf("echo out-%d; echo err-%d >&2; exit %d", i, i, i%4), Out: &out})
			want := fmt.Sprintf("out-%d\nerr-%d\n", i, i)
			if err != nil || code != i%4 || out.String() != want {
				errs <- fmt.Errorf("run %d: exit %d, %v, output %q; want exit %d and %q", i, code, err, out.String(), i%4, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := env.Containers(t); n != 0 {
		t.Errorf("%d containers left after the runs", n)
	}
}

// A one-off with a terminal whose input ends before it prints (ssh -tt
// < /dev/null) keeps its terminal: its output arrives and it exits 0.
// Without a terminal, the end of its input is passed on (cat ends).
func TestOneOffInputEnds(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	var out strings.Builder
	code, err := rt.RunOnce(ctx, app.OneOff{App: "tty", Image: builder.DefaultBase, Command: "sleep 0.5; tty; echo late",
		Stdin: strings.NewReader(""), TTY: &app.Terminal{Term: "xterm", Size: app.WindowSize{Width: 80, Height: 24}}, Out: &out})
	if err != nil || code != 0 || !strings.Contains(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "late") {
		t.Errorf("terminal with its input ended: exit %d, %v, output %q", code, err, out.String())
	}
	out.Reset()
	code, err = rt.RunOnce(ctx, app.OneOff{App: "tty", Image: builder.DefaultBase, Command: "cat; echo done",
		Stdin: strings.NewReader("piped\n"), Out: &out})
	if err != nil || code != 0 || out.String() != "piped\ndone\n" {
		t.Errorf("piped input: exit %d, %v, output %q", code, err, out.String())
	}
}

// TestAppArmor: where the host has AppArmor, every container runs under
// pier's profile; where it has not, containers still start, unconfined.
func TestAppArmor(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	var out strings.Builder
	code, err := rt.RunOnce(context.Background(), app.OneOff{App: "confined", Image: builder.DefaultBase,
		Command: "cat /proc/self/attr/current 2>/dev/null || echo none", Out: &out})
	if err != nil || code != 0 {
		t.Fatalf("run: exit %d, %v: %s", code, err, out.String())
	}
	got := strings.TrimSpace(out.String())
	if apparmor.HostSupports() {
		if got != "pier-default (enforce)" {
			t.Errorf("the process runs under %q, want pier-default (enforce)", got)
		}
	} else if strings.Contains(got, "pier-default") {
		t.Errorf("the process claims profile %q on a host without AppArmor", got)
	}
	t.Logf("AppArmor on this host: %v; the process's profile: %q", apparmor.HostSupports(), got)
}

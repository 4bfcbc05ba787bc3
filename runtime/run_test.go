package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

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

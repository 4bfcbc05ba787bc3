package runtime_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pier/app"
	"pier/builder"
	"pier/runtime/runtimetest"
)

// An instance that prints a line every 100 ms, with a pause after every
// fifth, on the real shim: a follower sees every line once, in order, with
// the instance's name, although the collector empties the raw file during
// the pauses, and what it writes when stopped is collected before its raw
// file goes. That the shim keeps appending at the start of the emptied file
// (O_APPEND) rather than at its old offset is what this checks too.
func TestLogsOfARealInstance(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	rt.SetRawLogLimit(32)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	collecting := make(chan struct{})
	go func() { rt.CollectLogs(ctx); close(collecting) }()
	defer func() { cancel(); <-collecting }()

	in, err := rt.Start(ctx, app.Instance{
		ID: "ticker-5ca1ab1e", App: "ticker", Release: 1, Process: "clock", Image: builder.DefaultBase,
		Command: `trap 'echo bye; exit 0' TERM; i=0; while :; do i=$((i+1)); echo "tick $i"; if [ $((i % 5)) -eq 0 ]; then sleep 0.6; else sleep 0.1; fi; done`,
	})
	if err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	followed := make(chan error, 1)
	go func() {
		followed <- rt.Logs(ctx, "ticker", app.LogQuery{Process: "clock", Follow: true}, pw)
		pw.Close()
	}()
	lineRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z clock\.5ca1ab1e tick (\d+)$`)
	sc := bufio.NewScanner(pr)
	want := 0
	deadline := time.AfterFunc(30*time.Second, func() { pr.CloseWithError(fmt.Errorf("timed out")) })
	defer deadline.Stop()
	for want < 20 && sc.Scan() {
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("line %q is not a tick of clock.5ca1ab1e", sc.Text())
		}
		if want == 0 {
			fmt.Sscan(m[1], &want) // the history may start after tick 1
		}
		if m[1] != fmt.Sprint(want) {
			t.Fatalf("got %q, want tick %d", sc.Text(), want)
		}
		want++
	}
	if want < 20 {
		t.Fatalf("followed up to tick %d: %v", want-1, sc.Err())
	}
	deadline.Stop()
	go io.Copy(io.Discard, pr)
	raw := rt.RawLogPath("ticker", "clock", in.ID)
	if fi, err := os.Stat(raw); err != nil || fi.Size() > 100 {
		t.Errorf("raw log after 20 lines: %v, size %d; want it emptied during pauses", err, fi.Size())
	}
	if tail := rt.Tail("ticker", in.ID, 3); len(tail) != 3 || !strings.HasPrefix(tail[2], "tick ") {
		t.Errorf("Tail = %q, want the last 3 ticks", tail)
	}

	if err := rt.Stop(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(raw); !os.IsNotExist(err) {
		t.Errorf("raw log after Stop: %v, want it removed", err)
	}
	// Stop collected the last words before deleting the raw file.
	if tail := rt.Tail("ticker", in.ID, 3); !slices.Contains(tail, "bye") {
		t.Errorf("Tail after Stop = %q, want bye among the last lines", tail)
	}
	cancel()
	if err := <-followed; err != nil {
		t.Errorf("Logs returned %v after cancel", err)
	}
}

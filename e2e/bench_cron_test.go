//go:build bench

package e2e

// The cron part of scripts/bench.sh: how late a scheduled job's process
// starts after its scheduled instant, against a bare one-off container
// start measured the same way in the same run.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// percentile is the p-th percentile (0 < p <= 1) of d, nearest rank.
func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[max(0, int(math.Ceil(p*float64(len(s))))-1)]
}

// stamps parses lines of `date +%s.%N`.
func stamps(t testing.TB, b []byte) []time.Time {
	var out []time.Time
	for _, line := range strings.Fields(string(b)) {
		sec, frac, _ := strings.Cut(line, ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad stamp %q", line)
		}
		out = append(out, time.Unix(s, ns))
	}
	return out
}

func TestBenchCron(t *testing.T) {
	const runs = 30
	d := startDaemon(t, "--cron-seconds")
	const name = "cronbench"
	d.mustPier("apps:create", name)
	d.mustPier("storage:mount", name, "data:/data")
	d.mustPier("cron:suspend", name)
	repo := gitRepo(t, map[string]string{
		"Procfile": "web: python3 -m http.server $PORT\n",
		// Every second: each run's process stamps the instant it started.
		"app.json": `{"cron": [{"id": "stamp", "schedule": "* * * * * *", "command": "date +%s.%N >> /data/stamps"}]}`,
	})
	if out, ok := d.push(repo, name, d.key); !ok {
		t.Fatalf("push:\n%s", out)
	}
	time.Sleep(time.Second)
	d.mustPier("cron:resume", name)
	path := filepath.Join(d.data, "runtime", "volumes", name, "data", "stamps")
	deadline := time.Now().Add(2 * time.Minute)
	var got []time.Time
	for len(got) < runs+2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d stamps after 2 minutes", len(got))
		}
		time.Sleep(time.Second)
		b, _ := os.ReadFile(path)
		got = stamps(t, b)
	}
	d.mustPier("cron:suspend", name)
	// The scheduled instants are whole seconds; the first run is dropped
	// (it may race the resume).
	var delays []time.Duration
	for _, s := range got[1 : runs+1] {
		delays = append(delays, s.Sub(s.Truncate(time.Second)))
	}

	// The floor: a bare one-off container of the same image, from the call
	// to its process running, stamped the same way; and the whole call for
	// `true`.
	ctx := context.Background()
	var image string
	list, err := d.rt.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		if in.App == name {
			image = in.Image
		}
	}
	if image == "" {
		t.Fatal("no instance of the app")
	}
	var floor, whole []time.Duration
	for i := 0; i < runs; i++ {
		var out bytes.Buffer
		start := time.Now()
		code, err := d.rt.RunOnce(ctx, app.OneOff{App: "floor-cron", Image: image, Command: "date +%s.%N", Out: &out})
		if err != nil || code != 0 {
			t.Fatalf("floor run: %d %v", code, err)
		}
		s := stamps(t, out.Bytes())
		if len(s) != 1 {
			t.Fatalf("floor run printed %q", out.String())
		}
		floor = append(floor, s[0].Sub(start))
		start = time.Now()
		if code, err := d.rt.RunOnce(ctx, app.OneOff{App: "floor-cron", Image: image, Command: "true", Out: &out}); err != nil || code != 0 {
			t.Fatalf("floor run: %d %v", code, err)
		}
		whole = append(whole, time.Since(start))
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	rows := [][3]string{
		{"cron: scheduled instant -> job's process running, p50", ms(percentile(delays, 0.5)), fmt.Sprintf("%d runs, every second", len(delays))},
		{"cron: scheduled instant -> job's process running, p99", ms(percentile(delays, 0.99)), "target <= 250 ms"},
		{"  floor: bare one-off container, call -> process running, p50", ms(percentile(floor, 0.5)), fmt.Sprintf("%d runs of RunOnce", len(floor))},
		{"  floor: bare one-off container, call -> process running, p99", ms(percentile(floor, 0.99)), ""},
		{"  bare one-off container of `true`, call -> removed, p50", ms(percentile(whole, 0.5)), ""},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-60s  %-10s  %s\n", "measure", "value", "note")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 120))
	for _, r := range rows {
		fmt.Fprintf(&b, "%-60s  %-10s  %s\n", r[0], r[1], r[2])
	}
	fmt.Fprintf(&b, "\nraw: cron delays %v\n     floor %v\n", delays, floor)
	fmt.Print(b.String())
}

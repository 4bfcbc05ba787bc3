//go:build bench

package main

// The benchmark behind scripts/bench.sh: go test -tags bench -run TestBench -v .

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pier/builder"
	"pier/runtime/runtimetest"
)

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// rss is a process's resident set size in bytes.
func rss(t testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// pushUntil pushes and waits until app answers want; it returns the time the
// push took and the time until the new version answered.
func (d *daemon) pushUntil(t testing.TB, dir, app, want string) (time.Duration, time.Duration) {
	start := time.Now()
	out, ok := d.push(dir, app, d.key)
	pushed := time.Since(start)
	if !ok {
		t.Fatalf("push %s failed:\n%s", app, out)
	}
	for {
		if _, body, _ := d.get(app, "/"); body == want {
			return pushed, time.Since(start)
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("%s never answered %q", app, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBench(t *testing.T) {
	const runs = 5
	d := startDaemon(t)
	time.Sleep(2 * time.Second)
	rssEmpty := rss(t, d.cmd.Process.Pid)

	var firstPush, firstAnswer []time.Duration
	for i := 0; i < runs; i++ {
		repo := gitRepo(t, nodeApp("v0"))
		p, a := d.pushUntil(t, repo, fmt.Sprintf("first%d", i), "v0 1m")
		firstPush, firstAnswer = append(firstPush, p), append(firstAnswer, a)
	}

	repo := gitRepo(t, nodeApp("v0"))
	d.pushUntil(t, repo, "hello", "v0 1m")
	var rePush, reAnswer []time.Duration
	for i := 1; i <= runs; i++ {
		greeting := fmt.Sprintf("v%d", i)
		commit(t, repo, map[string]string{"server.js": nodeApp(greeting)["server.js"]})
		p, a := d.pushUntil(t, repo, "hello", greeting+" 1m")
		rePush, reAnswer = append(rePush, p), append(reAnswer, a)
	}

	time.Sleep(5 * time.Second) // retired instances stop; the daemon settles
	rssApps := rss(t, d.cmd.Process.Pid)

	tarball := builder.BaseTarball(runtimetest.CacheDir)
	fi, err := os.Stat(tarball)
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := d.rt.ImageSize(context.Background(), builder.DefaultBase)
	if err != nil {
		t.Fatal(err)
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	rows := [][3]string{
		{"first deploy, Node app with an npm dependency: push returns", ms(median(firstPush)), "median of 5"},
		{"first deploy: push -> app answering", ms(median(firstAnswer)), "median of 5"},
		{"code-only redeploy, Node: push returns", ms(median(rePush)), "median of 5; target <= 3 s (Piku 4.45 s)"},
		{"code-only redeploy: push -> new version answering", ms(median(reAnswer)), "median of 5; target <= 3 s, aim 2 s"},
		{"pier RSS idle, no apps", mb(rssEmpty), "target <= 40 MB"},
		{"pier RSS idle, 6 apps running", mb(rssApps), ""},
		{"base image tarball (gzip)", mb(fi.Size()), tarball},
		{"base image unpacked", mb(unpacked), "shared by every app"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-58s  %-10s  %s\n", "measure", "value", "note")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 110))
	for _, r := range rows {
		fmt.Fprintf(&b, "%-58s  %-10s  %s\n", r[0], r[1], r[2])
	}
	fmt.Fprintf(&b, "\nraw: first push %v\n     first answer %v\n     redeploy push %v\n     redeploy answer %v\n",
		firstPush, firstAnswer, rePush, reAnswer)
	fmt.Print(b.String())
}

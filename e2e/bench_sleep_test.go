//go:build bench

package e2e

// The sleep and wake benchmark behind scripts/bench.sh.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"pier/runtime"
)

// firstByte is the time until the response headers of a GET of app's "/".
func (d *daemon) firstByte(t testing.TB, app string) time.Duration {
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.httpPort), nil)
	req.Host = app + ".localhost"
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", app, resp, err)
	}
	resp.Body.Close()
	return took
}

func TestBenchSleep(t *testing.T) {
	d := startDaemon(t)
	node, py := gitRepo(t, nodeApp("v0")), gitRepo(t, pythonApp("v0"))
	d.pushUntil(t, node, "hello", "v0 1m")
	d.pushUntil(t, py, "py", "v0")

	// Wake from frozen: first-byte time minus a warm request's.
	var frozenPenalty, warm []time.Duration
	for i := 0; i < 20; i++ {
		d.mustPier("sleep:now", "py")
		first := d.firstByte(t, "py")
		w := d.firstByte(t, "py")
		frozenPenalty, warm = append(frozenPenalty, first-w), append(warm, w)
	}

	// Wake from stopped against the floor: a bare container start plus the
	// app's own boot.
	wakeStopped := func(app string) []time.Duration {
		var times []time.Duration
		for i := 0; i < 5; i++ {
			d.mustPier("sleep:now", app, "--stop")
			times = append(times, d.firstByte(t, app))
		}
		return times
	}
	nodeWake, pyWake := wakeStopped("hello"), wakeStopped("py")
	nodeFloor, pyFloor := d.floor(t, "hello", 5), d.floor(t, "py", 5)

	// Memory freed by stopping 10 sleeping apps.
	for i := 0; i < 10; i++ {
		d.pushUntil(t, py, fmt.Sprintf("idle%d", i), "v0")
		d.mustPier("sleep:now", fmt.Sprintf("idle%d", i))
	}
	time.Sleep(2 * time.Second)
	before, _ := runtime.Memory()
	for i := 0; i < 10; i++ {
		d.mustPier("sleep:now", fmt.Sprintf("idle%d", i), "--stop")
	}
	time.Sleep(2 * time.Second)
	after, _ := runtime.Memory()

	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
	ratio := func(a, b time.Duration) string {
		return fmt.Sprintf("%.2fx the floor (target <= 1.5x)", a.Seconds()/b.Seconds())
	}
	rows := [][3]string{
		{"wake from frozen: first-byte penalty over a warm request", ms(median(frozenPenalty)), fmt.Sprintf("p50 of 20 (p90 %s); target <= 5 ms", ms(percentile(frozenPenalty, .9)))},
		{"  warm request through the router", ms(median(warm)), "p50 of 20"},
		{"wake from stopped, Node: first byte", ms(median(nodeWake)), "median of 5; " + ratio(median(nodeWake), nodeFloor)},
		{"  floor: container start + Node boot", ms(nodeFloor), "median of 5"},
		{"wake from stopped, Python: first byte", ms(median(pyWake)), "median of 5; " + ratio(median(pyWake), pyFloor)},
		{"  floor: container start + Python boot", ms(pyFloor), "median of 5"},
		{"memory freed by stopping 10 frozen Python apps", fmt.Sprintf("%.1f MB", float64(after-before)/1e6), "MemAvailable after - before"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-60s  %-10s  %s\n", "sleep and wake", "value", "note")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 120))
	for _, r := range rows {
		fmt.Fprintf(&b, "%-60s  %-10s  %s\n", r[0], r[1], r[2])
	}
	fmt.Fprintf(&b, "\nraw: frozen penalty %v\n     Node stopped wake %v\n     Python stopped wake %v\n", frozenPenalty, nodeWake, pyWake)
	fmt.Print(b.String())
}

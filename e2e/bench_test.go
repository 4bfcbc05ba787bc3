//go:build bench

package e2e

// The benchmark behind scripts/bench.sh: go test -tags bench -run TestBench -v ./e2e/

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pier/app"
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
	r, _ := memory(pid)
	if r == 0 {
		t.Fatalf("no memory figures for process %d", pid)
	}
	return r
}

// memory is a process's RSS and PSS in bytes, from smaps_rollup.
func memory(pid int) (rss, pss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "Rss:":
				rss = kb << 10
			case "Pss:":
				pss = kb << 10
			}
		}
	}
	return rss, pss
}

// processes returns the PIDs whose command line contains every one of
// words.
func processes(words ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) == 0 {
			continue
		}
		line, all := strings.ReplaceAll(string(b), "\x00", " "), true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pushUntil pushes and waits until app answers want; it returns the time the
// push took and the time until the new version answered.
func (d *daemon) pushUntil(t testing.TB, dir, app, want string) (time.Duration, time.Duration) {
	s := d.pushTimed(t, dir, app, want)
	return s.pushed, s.answered
}

// stages is where one push's time went, read from when its output's
// lines arrived and from the parts the Built line names.
type stages struct {
	pushed, answered time.Duration
	parts            map[string]time.Duration
}

// stageNames are the parts of a redeploy, in order.
var stageNames = []string{"ssh + git receive", "source copy", "build script", "predeploy", "layer commit + image",
	"release phase", "start + health check + route switch"}

var builtPart = regexp.MustCompile(`([a-z]+) ([0-9.]+)s`)

// pushTimed pushes dir to app, timing its output's steps, while it polls
// the app until it answers want.
func (d *daemon) pushTimed(t testing.TB, dir, app, want string) stages {
	cmd := d.pushCmd(dir, app, d.key)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]time.Duration{}
	parts := map[string]time.Duration{}
	var out strings.Builder
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			at, line := time.Since(start), sc.Text()
			out.WriteString(line + "\n")
			for _, m := range []string{"-----> Building", "-----> Built", "-----> Starting v"} {
				if _, ok := seen[m]; !ok && strings.Contains(line, m) {
					seen[m] = at
				}
			}
			if i := strings.Index(line, "-----> Built"); i >= 0 && strings.Contains(line[i:], "(") {
				for _, p := range builtPart.FindAllStringSubmatch(line[i+strings.Index(line[i:], "("):], -1) {
					f, _ := strconv.ParseFloat(p[2], 64)
					parts[p[1]] = time.Duration(f * float64(time.Second))
				}
			}
		}
	}()
	var answered time.Duration
	for answered == 0 {
		if _, body, _ := d.get(app, "/"); body == want {
			answered = time.Since(start)
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("%s never answered %q", app, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	err := cmd.Wait()
	pushed := time.Since(start)
	pw.Close()
	<-lines
	if err != nil {
		t.Fatalf("push %s failed:\n%s", app, out.String())
	}
	s := stages{pushed: pushed, answered: answered, parts: map[string]time.Duration{
		"ssh + git receive":                   seen["-----> Building"],
		"source copy":                         parts["copy"],
		"predeploy":                           parts["predeploy"],
		"layer commit + image":                parts["layer"],
		"release phase":                       seen["-----> Starting v"] - seen["-----> Built"],
		"start + health check + route switch": answered - seen["-----> Starting v"],
	}}
	for k, v := range parts {
		if k != "copy" && k != "predeploy" && k != "layer" {
			s.parts["build script"] += v
		}
	}
	if seen["-----> Starting v"] == 0 {
		s.parts["release phase"] = 0
		s.parts["start + health check + route switch"] = answered - seen["-----> Built"]
	}
	return s
}

// floor measures the bare cost of running app's current image: container
// start plus the app's own boot, until it answers HTTP 200 (median of runs).
func (d *daemon) floor(t testing.TB, app string, runs int) time.Duration {
	ctx := context.Background()
	list, err := d.rt.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var image, command string
	for _, in := range list {
		if in.App == app && in.Process == "web" {
			image = in.Image
		}
	}
	if image == "" {
		t.Fatalf("no running instance of %s", app)
	}
	if app == "py" {
		command = "python3 app.py"
	} else {
		command = "node server.js"
	}
	var times []time.Duration
	for i := 0; i < runs; i++ {
		start := time.Now()
		in, err := d.rt.Start(ctx, appInstance(app, image, command, i))
		if err != nil {
			t.Fatal(err)
		}
		for {
			resp, err := http.Get("http://" + in.Addr + "/")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("floor instance never answered: %v", err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		times = append(times, time.Since(start))
		d.rt.Stop(ctx, in.ID)
	}
	return median(times)
}

func appInstance(name, image, command string, i int) app.Instance {
	// An app name pier does not know, so its heal loop leaves the floor alone.
	return app.Instance{ID: fmt.Sprintf("floor-%s-%d", name, i), App: "floor-" + name, Process: "web", Image: image,
		Command: command, Port: 5000, Env: []string{"PORT=5000"}}
}

// redeploys pushes runs code-only changes of app (versions from+1 on), each
// until the new version answers, under load from clients clients (none: a
// quiet machine), and returns the times and the number of failed requests.
func (d *daemon) redeploys(t testing.TB, repo, app string, from, runs, clients int, files func(string) map[string]string, want func(string) string) ([]time.Duration, int64, int64, map[string][]time.Duration) {
	l := startLoad(d, app, clients)
	var times []time.Duration
	parts := map[string][]time.Duration{}
	for i := from + 1; i <= from+runs; i++ {
		v := fmt.Sprintf("v%d", i)
		commit(t, repo, files(v))
		s := d.pushTimed(t, repo, app, want(v))
		times = append(times, s.answered)
		for k, dur := range s.parts {
			parts[k] = append(parts[k], dur)
		}
	}
	time.Sleep(2 * time.Second)
	l.finish()
	return times, l.failed.Load(), l.ok.Load(), parts
}

func TestBench(t *testing.T) {
	const runs = 5
	d := startDaemon(t)
	// Idle: start-up over (pier releases its start-up pages then) and the
	// pages a serving pier uses mapped again.
	time.Sleep(10 * time.Second)
	rssEmpty := rss(t, d.cmd.Process.Pid)
	var ctrdEmpty int64
	for _, pid := range processes("containerd --config", d.env.Dir) {
		ctrdEmpty, _ = memory(pid)
	}

	var firstPush, firstAnswer []time.Duration
	for i := 0; i < runs; i++ {
		repo := gitRepo(t, nodeApp("v0"))
		p, a := d.pushUntil(t, repo, fmt.Sprintf("first%d", i), "v0 1m")
		firstPush, firstAnswer = append(firstPush, p), append(firstAnswer, a)
	}

	node := gitRepo(t, nodeApp("v0"))
	d.pushUntil(t, node, "hello", "v0 1m")
	nodeFiles := func(v string) map[string]string { return map[string]string{"server.js": nodeApp(v)["server.js"]} }
	nodeWant := func(v string) string { return v + " 1m" }
	nodeTimes, _, _, nodeParts := d.redeploys(t, node, "hello", 0, runs, 0, nodeFiles, nodeWant)
	nodeLoaded, nodeFailed, nodeOK, _ := d.redeploys(t, node, "hello", runs, runs, 2, nodeFiles, nodeWant)
	nodeFloor := d.floor(t, "hello", runs)

	py := gitRepo(t, pythonApp("v0"))
	d.pushUntil(t, py, "py", "v0")
	pyFiles := func(v string) map[string]string { return map[string]string{"app.py": pythonApp(v)["app.py"]} }
	pyWant := func(v string) string { return v }
	pyTimes, _, _, pyParts := d.redeploys(t, py, "py", 0, runs, 0, pyFiles, pyWant)
	pyLoaded, pyFailed, pyOK, _ := d.redeploys(t, py, "py", runs, runs, 2, pyFiles, pyWant)
	pyFloor := d.floor(t, "py", runs)

	time.Sleep(5 * time.Second) // retired instances stop; the daemon settles

	// The platform's processes and the apps' own, by PSS: what pier,
	// its containerd and the shims cost next to the app processes.
	var shimRSS, shimPSS int64
	shims := processes("containerd-shim-runc-v2", "-namespace "+d.env.Namespace())
	for _, pid := range shims {
		r, p := memory(pid)
		shimRSS, shimPSS = shimRSS+r, shimPSS+p
	}
	var ctrdRSS, ctrdPSS int64
	for _, pid := range processes("containerd --config", d.env.Dir) {
		ctrdRSS, ctrdPSS = memory(pid)
	}
	pierRSS, pierPSS := memory(d.cmd.Process.Pid)
	instances, err := d.rt.Instances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wrappers int
	for _, pid := range processes("/bin/sh -c") {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil && strings.Contains(string(b), d.env.Namespace()) {
			wrappers++
		}
	}
	perProcess := shimPSS / int64(max(len(instances), 1))

	tarball := builder.BaseTarball(runtimetest.CacheDir)
	fi, err := os.Stat(tarball)
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := d.rt.ImageSize(context.Background(), builder.DefaultBase)
	if err != nil {
		t.Fatal(err)
	}

	sec := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	ratio := func(a, b time.Duration) string { return fmt.Sprintf("%.1fx the floor", a.Seconds()/b.Seconds()) }
	rows := [][3]string{
		{"first deploy, Node app with an npm dependency: push returns", sec(median(firstPush)), "median of 5"},
		{"first deploy: push -> app answering", sec(median(firstAnswer)), "median of 5"},
		{"code-only redeploy, Node: push -> new version answering", sec(median(nodeTimes)), "median of 5; target <= 1 s and <= 3x the floor (Piku 4.45 s); " + ratio(median(nodeTimes), nodeFloor)},
		{"  floor: container start + Node app boot to HTTP 200", sec(nodeFloor), "median of 5"},
		{"  the same under load from 2 clients", sec(median(nodeLoaded)), "median of 5; the clients loop as fast as the router answers"},
		{"  failed requests during the 5 Node redeploys under load", fmt.Sprint(nodeFailed), fmt.Sprintf("of %d; target 0 (Piku 47-85)", nodeFailed+nodeOK)},
		{"code-only redeploy, Python: push -> new version answering", sec(median(pyTimes)), "median of 5; target <= 1 s and <= 3x the floor (Piku 3.9 s); " + ratio(median(pyTimes), pyFloor)},
		{"  floor: container start + Python app boot to HTTP 200", sec(pyFloor), "median of 5"},
		{"  the same under load from 2 clients", sec(median(pyLoaded)), "median of 5"},
		{"  failed requests during the 5 Python redeploys under load", fmt.Sprint(pyFailed), fmt.Sprintf("of %d; target 0", pyFailed+pyOK)},
		{"pier RSS idle, no apps", mb(rssEmpty), "target <= 40 MB"},
		{"pier + containerd RSS idle, no apps", mb(rssEmpty + ctrdEmpty), "target <= 80 MB"},
		{"with the apps running, RSS / PSS:", "", ""},
		{"  pier", mb(pierRSS), "PSS " + mb(pierPSS) + "; target <= 40 MB"},
		{"  containerd", mb(ctrdRSS), "PSS " + mb(ctrdPSS)},
		{"  pier + containerd", mb(pierRSS + ctrdRSS), ""},
		{fmt.Sprintf("  runc shims (%d)", len(shims)), mb(shimRSS), "PSS " + mb(shimPSS)},
		{"  shell wrappers left as a process's parent", fmt.Sprint(wrappers), "target 0"},
		{fmt.Sprintf("  platform overhead per app process (%d running)", len(instances)), mb(perProcess), "shims' PSS / processes; target <= 4 MB"},
		{"base image tarball (gzip)", mb(fi.Size()), tarball},
		{"base image unpacked", mb(unpacked), "shared by every app"},
	}
	for _, a := range []struct {
		name  string
		parts map[string][]time.Duration
	}{{"Node", nodeParts}, {"Python", pyParts}} {
		rows = append(rows, [3]string{"where a " + a.name + " redeploy's time goes (median of 5 each):", "", ""})
		for _, n := range stageNames {
			if len(a.parts[n]) > 0 && median(a.parts[n]) > 0 {
				rows = append(rows, [3]string{"  " + n, sec(median(a.parts[n])), ""})
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-60s  %-10s  %s\n", "measure", "value", "note")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 120))
	for _, r := range rows {
		fmt.Fprintf(&b, "%-60s  %-10s  %s\n", r[0], r[1], r[2])
	}
	fmt.Fprintf(&b, "\nraw: first push %v\n     Node redeploys %v\n     Python redeploys %v\n",
		firstAnswer, nodeTimes, pyTimes)
	fmt.Print(b.String())
}

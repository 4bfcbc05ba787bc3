package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pier/runtime/runtimetest"
)

// budget is 512 MB, the memory a Raspberry Pi with 1 GB leaves pier.
const budget = 512 << 20

// TestMemoryBudget runs the whole system — containerd, its shims, pier and
// the apps — in one cgroup limited to 512 MB, with pier's --cgroup-parent
// putting the containers under it: three apps and a static site serve
// under load, two more apps asleep, and nothing is killed for memory.
func TestMemoryBudget(t *testing.T) {
	cg := newBudgetCgroup(t, budget)
	env := runtimetest.StartWith(t, runtimetest.Options{Cgroup: cg.procs()})
	d := newDaemon(t, env, "127.0.0.1", freePort(t), freePort(t), []string{"--cgroup-parent", cg.name})
	d.freshPorts, d.cgroup = true, cg.procs()
	d.rt = env.Runtime(t, filepath.Join(d.data, "runtime"))
	d.launch()

	apps := map[string]map[string]string{
		"node1": nodeApp("node1"), "node2": nodeApp("node2"), "py": pythonApp("py"),
		"site":   {"index.html": "<h1>site</h1>"},
		"sleep1": nodeApp("sleep1"), "sleep2": pythonApp("sleep2"),
	}
	for name, files := range apps {
		if out, ok := d.push(gitRepo(t, files), name, d.key); !ok {
			t.Fatalf("push %s:\n%s", name, out)
		}
	}
	d.mustPier("sleep:now", "sleep1", "--stop")
	d.mustPier("sleep:now", "sleep2")

	// Load: four clients on each of the awake apps for 20 s.
	var served, failed atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(20 * time.Second)
	for _, name := range []string{"node1", "node2", "py", "site"} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if code, body, err := d.get(name, "/"); err != nil || code != 200 || !strings.Contains(body, name) {
						failed.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					served.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed under the budget", failed.Load(), served.Load()+failed.Load())
	}
	if kills := cg.oomKills(); kills > 0 {
		t.Errorf("%d processes killed for memory inside the %d MiB budget", kills, budget>>20)
	}
	for _, name := range []string{"sleep1", "sleep2"} {
		if r := d.mustPier("sleep:report", name); !strings.Contains(strings.ToLower(r), "asleep") && !strings.Contains(r, "stopped") && !strings.Contains(r, "frozen") {
			t.Errorf("%s is not asleep after the load:\n%s", name, r)
		}
	}

	// What each part used.
	var b strings.Builder
	fmt.Fprintf(&b, "memory inside the %d MiB budget, %d requests served:\n", budget>>20, served.Load())
	fmt.Fprintf(&b, "  %-28s %7.1f MB\n", "peak, everything", mb(cg.peak()))
	anon, file := cg.split()
	fmt.Fprintf(&b, "  %-28s %7.1f MB (%.1f MB of it process memory, %.1f MB reclaimable file cache)\n", "now, everything", mb(cg.usage()), mb(anon), mb(file))
	for _, p := range cg.processes() {
		fmt.Fprintf(&b, "  %-28s %7.1f MB RSS\n", p.name, mb(p.rss))
	}
	ctrs := cg.containers(env.Namespace())
	if len(ctrs) < 4 {
		t.Errorf("%d containers under the budget's cgroup, want the 3 apps' and the frozen one's: --cgroup-parent was not applied", len(ctrs))
	}
	for _, c := range ctrs {
		fmt.Fprintf(&b, "  %-28s %7.1f MB\n", "container "+c.name, mb(c.rss))
	}
	t.Log(b.String())
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// budgetCgroup is a memory cgroup the test made: processes join its
// "daemons" child, and containers are made under it by pier's
// --cgroup-parent (cgroup v2 lets no cgroup hold both processes and
// children).
type budgetCgroup struct {
	name string // under the hierarchy's root
	dir  string // the memory hierarchy's directory of it
	v2   bool
}

func newBudgetCgroup(t *testing.T, limit int64) *budgetCgroup {
	t.Helper()
	cg := &budgetCgroup{name: fmt.Sprintf("pier-budget-%d", os.Getpid())}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg.v2 = true
		cg.dir = filepath.Join("/sys/fs/cgroup", cg.name)
	} else {
		cg.dir = filepath.Join("/sys/fs/cgroup/memory", cg.name)
	}
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		t.Fatalf("make the budget cgroup: %v", err)
	}
	t.Cleanup(cg.remove)
	write := func(file, value string) {
		if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(value), 0); err != nil {
			t.Fatalf("cgroup %s: %v", file, err)
		}
	}
	if cg.v2 {
		write("memory.max", strconv.FormatInt(limit, 10))
		write("memory.swap.max", "0")
		write("cgroup.subtree_control", "+memory +pids +cpu")
	} else {
		write("memory.limit_in_bytes", strconv.FormatInt(limit, 10))
	}
	if err := os.Mkdir(filepath.Join(cg.dir, "daemons"), 0o755); err != nil {
		t.Fatal(err)
	}
	return cg
}

// procs is the cgroup.procs file of the cgroup's daemons, where containerd
// and pier start (runtimetest.InCgroup).
func (cg *budgetCgroup) procs() string { return filepath.Join(cg.dir, "daemons", "cgroup.procs") }

// remove moves what is left back to the root and removes the cgroups, in
// every hierarchy (runc made the containers' in each of cgroup v1's).
func (cg *budgetCgroup) remove() {
	root := filepath.Dir(cg.dir)
	filepath.WalkDir(cg.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, pid := range strings.Fields(string(b)) {
				os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(pid), 0)
			}
		}
		return nil
	})
	runtimetest.RemoveCgroupTree(cg.name)
}

func (cg *budgetCgroup) read(rel, file, key string) int64 {
	b, err := os.ReadFile(filepath.Join(cg.dir, rel, file))
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(b))
	if key != "" {
		s = ""
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == key {
				s = v
			}
		}
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// oomKills counts the processes the kernel killed for memory in the
// cgroup and under it.
func (cg *budgetCgroup) oomKills() int64 {
	if cg.v2 {
		return cg.read("", "memory.events", "oom_kill") // hierarchical
	}
	var n int64
	filepath.WalkDir(cg.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			rel, _ := filepath.Rel(cg.dir, p)
			n += cg.read(rel, "memory.oom_control", "oom_kill")
		}
		return nil
	})
	return n
}

func (cg *budgetCgroup) peak() int64 {
	if cg.v2 {
		return cg.read("", "memory.peak", "")
	}
	return cg.read("", "memory.max_usage_in_bytes", "")
}

func (cg *budgetCgroup) usage() int64 {
	if cg.v2 {
		return cg.read("", "memory.current", "")
	}
	return cg.read("", "memory.usage_in_bytes", "")
}

// split is the cgroup's charge now, as process memory (anonymous) and
// file cache, which the kernel reclaims before it kills anything.
func (cg *budgetCgroup) split() (anon, file int64) {
	if cg.v2 {
		return cg.read("", "memory.stat", "anon"), cg.read("", "memory.stat", "file")
	}
	return cg.read("", "memory.stat", "total_rss"), cg.read("", "memory.stat", "total_cache")
}

type part struct {
	name string
	rss  int64
}

// processes are the daemons' processes (containerd, its shims, pier) with
// their resident memory.
func (cg *budgetCgroup) processes() []part {
	b, _ := os.ReadFile(filepath.Join(cg.dir, "daemons", "cgroup.procs"))
	var parts []part
	for _, pid := range strings.Fields(string(b)) {
		comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
		status, _ := os.ReadFile(filepath.Join("/proc", pid, "status"))
		var rss int64
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				rss = kb << 10
			}
		}
		parts = append(parts, part{strings.TrimSpace(string(comm)) + " (" + pid + ")", rss})
	}
	return parts
}

// containers are the containers' cgroups with the memory each is charged
// (anonymous and file pages, as the limit counts them).
func (cg *budgetCgroup) containers(namespace string) []part {
	dirs, _ := filepath.Glob(filepath.Join(cg.dir, namespace, "*"))
	var parts []part
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		rel, _ := filepath.Rel(cg.dir, dir)
		file := "memory.usage_in_bytes"
		if cg.v2 {
			file = "memory.current"
		}
		parts = append(parts, part{filepath.Base(dir), cg.read(rel, file, "")})
	}
	return parts
}

package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"pier/app"
)

var _ app.Usage = (*Containerd)(nil)

// InstanceMemory returns the memory an instance's processes use now, in
// bytes, as its cgroup counts it (page cache included): cgroup v2's
// memory.current or v1's memory.usage_in_bytes, at containerd's default
// cgroups path /<namespace>/<id>. ok is false when the instance has no
// cgroup (it is not running) or the file cannot be read. It is cheap (one
// small file read) and safe for concurrent use.
func (c *Containerd) InstanceMemory(id string) (bytes int64, ok bool) {
	if cgroupV2() {
		return c.cgroupInt(id, "", "memory.current", "")
	}
	return c.cgroupInt(id, "memory", "memory.usage_in_bytes", "")
}

// InstanceCPU returns the CPU time an instance's processes used, as its
// cgroup counts it: v2's cpu.stat usage_usec, v1's cpuacct.usage.
func (c *Containerd) InstanceCPU(id string) (seconds float64, ok bool) {
	if cgroupV2() {
		us, ok := c.cgroupInt(id, "", "cpu.stat", "usage_usec")
		return float64(us) / 1e6, ok
	}
	ns, ok := c.cgroupInt(id, "cpuacct", "cpuacct.usage", "")
	return float64(ns) / 1e9, ok
}

func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// cgroupInt reads a number from file of instance id's cgroup (under the
// v1 hierarchy v1, "" for v2): the whole file, or the value of key in a
// "key value" file.
func (c *Containerd) cgroupInt(id, v1, file, key string) (int64, bool) {
	if id == "" || strings.ContainsAny(id, "/.") {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", v1, c.cgroup(id), file))
	if err != nil {
		return 0, false
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
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

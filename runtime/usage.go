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
	if id == "" || strings.ContainsAny(id, "/.") {
		return 0, false
	}
	cg := filepath.Join("/", c.cfg.Namespace, id)
	path := filepath.Join("/sys/fs/cgroup/memory", cg, "memory.usage_in_bytes")
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		path = filepath.Join("/sys/fs/cgroup", cg, "memory.current")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

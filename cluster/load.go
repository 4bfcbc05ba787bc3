package cluster

import (
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	"pier/cluster/members"
)

// load measures this machine's load for gossip: what nodes:list shows
// and placement will weigh.
func (c *Cluster) load(id *identity) members.Load {
	l := members.Load{Addr: id.Addr, Role: string(id.Role), Arch: goruntime.GOARCH, CPUs: goruntime.NumCPU(), Labels: c.cfg.Labels}
	if c.cfg.Memory != nil {
		l.MemAvail, l.MemTotal = c.cfg.Memory()
	}
	if c.cfg.Instances != nil {
		l.Instances = c.cfg.Instances()
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(c.cfg.Dir, &fs) == nil {
		l.DiskAvail = int64(fs.Bavail) * int64(fs.Bsize)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			l.Load1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return l
}

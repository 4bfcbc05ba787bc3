// Package runtime is everything pier does with containerd: importing base
// images, build workspaces on snapshots of the base, committing app layers,
// running instances with limits in their own network namespaces. Their
// output goes to raw files that pier/logstore collects.
//
// It knows nothing of apps' business rules: it runs what app asks for.
package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"pier/logstore"
)

// Config says where containerd is and how instances run. Zero fields take the
// defaults documented on each.
type Config struct {
	Address     string // containerd socket; default /run/containerd/containerd.sock
	Namespace   string // default "pier"
	Snapshotter string // default "overlayfs"
	// DataDir holds logs, network namespaces, CNI state and generated files.
	DataDir string
	Network NetworkConfig
	// MemoryLimit is the default memory limit of an app process (bytes).
	MemoryLimit int64 // default 256 MiB
	// BuildMemoryLimit bounds a build container (bytes).
	BuildMemoryLimit int64 // default 1 GiB
	// BuildCPU bounds a build container's CPU (cores); builds also get a
	// small CPU weight (4, against an app process's 100), so that apps
	// come first when the CPU is busy.
	BuildCPU  float64 // default all cores but one, at least one
	PidsLimit int64   // default 512
	// CABundle is mounted read-only into build containers so package managers
	// trust the same authorities as the host (company proxies, private
	// registries). Default: the host's /etc/ssl/certs/ca-certificates.crt if present.
	CABundle string
	// StopTimeout is the grace between SIGTERM and SIGKILL.
	StopTimeout time.Duration // default 10s
	// DiskLimit bounds what an app process writes outside its volumes and
	// /tmp, BuildDiskLimit what a build writes (bytes; see WatchDisk).
	DiskLimit      int64 // default 1 GiB
	BuildDiskLimit int64 // default 4 GiB
	// LogMaxBytes caps an app's collected log, app.log; it is then renamed to
	// app.log.1, so an app's logs take at most about twice this on disk.
	LogMaxBytes int64 // default 8 MiB
	// DiskReserve is the free space on DataDir's disk kept for pier's
	// database: app output that would take the disk below it is dropped,
	// and a build running while it is below is stopped (0: none).
	DiskReserve int64
	// CgroupParent, if set, is the cgroup (a path under each hierarchy's
	// root, such as "pier") the containers' cgroups are made under:
	// /<CgroupParent>/<Namespace>/<id> instead of /<Namespace>/<id>, so
	// that a limit set on it bounds every container together.
	CgroupParent string
}

func (c *Config) defaults() {
	if c.Address == "" {
		c.Address = "/run/containerd/containerd.sock"
	}
	if c.Namespace == "" {
		c.Namespace = "pier"
	}
	if c.Snapshotter == "" {
		c.Snapshotter = "overlayfs"
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = 256 << 20
	}
	if c.BuildMemoryLimit == 0 {
		c.BuildMemoryLimit = 1 << 30
	}
	if c.BuildCPU == 0 {
		c.BuildCPU = float64(max(1, runtime.NumCPU()-1))
	}
	if c.PidsLimit == 0 {
		c.PidsLimit = 512
	}
	if c.CABundle == "" {
		if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
			c.CABundle = "/etc/ssl/certs/ca-certificates.crt"
		}
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.DiskLimit == 0 {
		c.DiskLimit = 1 << 30
	}
	if c.BuildDiskLimit == 0 {
		c.BuildDiskLimit = 4 << 30
	}
	if c.LogMaxBytes == 0 {
		c.LogMaxBytes = 8 << 20
	}
	c.Network.defaults(c.DataDir)
}

// Containerd is pier's handle on a containerd daemon. Safe for concurrent use.
type Containerd struct {
	client  *containerd.Client
	cfg     Config
	net     *network
	logs    *logstore.Store
	log     *slog.Logger
	freezer freezerState
	sites   sync.Mutex // serializes mounting and unmounting static sites
	evicted sync.Map   // container ID -> why CheckDisk killed it (one-offs, builds)
	// apparmor says containers run under apparmorProfile.
	apparmor bool
}

// Open connects to containerd and prepares networking. Close releases it.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Containerd, error) {
	cfg.defaults()
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("runtime: no data directory configured")
	}
	if err := ValidCgroupParent(cfg.CgroupParent); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, "logs"), filepath.Join(cfg.DataDir, "netns")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	client, err := containerd.New(cfg.Address,
		containerd.WithDefaultNamespace(cfg.Namespace),
		containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w (is containerd running?)", cfg.Address, err)
	}
	if _, err := client.Version(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("containerd at %s does not answer: %w", cfg.Address, err)
	}
	resolv := resolvConf()
	n, err := newNetwork(cfg.Network, resolvers(resolv))
	if err != nil {
		client.Close()
		return nil, err
	}
	c := &Containerd{client: client, cfg: cfg, net: n, log: log.With("component", "runtime")}
	c.freezer.syncing = map[string]chan struct{}{}
	c.apparmor = c.loadAppArmor()
	c.logs = logstore.New(filepath.Join(cfg.DataDir, "logs"), cfg.LogMaxBytes, log.With("component", "logs"))
	c.logs.SetReserve(cfg.DiskReserve)
	if err := c.writeEtcFiles(resolv); err != nil {
		client.Close()
		return nil, err
	}
	return c, nil
}

// Close disconnects from containerd; running instances keep running.
func (c *Containerd) Close() error { return c.client.Close() }

func (c *Containerd) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, c.cfg.Namespace)
}

// Platform is the image platform of this machine (linux/amd64, linux/arm64...).
func Platform() (os, arch string) { return "linux", runtime.GOARCH }

// writeEtcFiles writes the resolv.conf (resolvConf's) and hosts files
// mounted into every container. hosts has no ::1: containers have no IPv6.
func (c *Containerd) writeEtcFiles(resolv []byte) error {
	if err := os.WriteFile(c.resolvPath(), resolv, 0o644); err != nil {
		return err
	}
	hosts := "127.0.0.1\tlocalhost\n"
	return os.WriteFile(c.hostsPath(), []byte(hosts), 0o644)
}

func (c *Containerd) resolvPath() string { return filepath.Join(c.cfg.DataDir, "resolv.conf") }
func (c *Containerd) hostsPath() string  { return filepath.Join(c.cfg.DataDir, "hosts") }

// RawLogPath is the named pipe (a file, for instances started by older
// versions) the shim copies an instance's stdout and stderr into;
// CollectLogs reads it from there. The name carries the process type.
func (c *Containerd) RawLogPath(app, process, id string) string {
	return c.logs.RawPath(app, process, id)
}

// CABundle is the CA bundle builds trust ("" for none).
func (c *Containerd) CABundle() string { return c.cfg.CABundle }

// Memory reports the machine's available and total memory in bytes, from
// /proc/meminfo; zeros if it cannot be read.
func Memory() (available, total int64) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "MemAvailable:":
			available = kb << 10
		case "MemTotal:":
			total = kb << 10
		}
	}
	return available, total
}

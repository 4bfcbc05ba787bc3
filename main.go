// Command pier is a self-hosted platform-as-a-service in one binary:
// `git push` over SSH builds an app into a thin layer on a shared base image,
// containerd runs it, and a built-in router serves it at <app>.<domain>.
//
//	pier serve [flags]           run the daemon
//	pier base build [--rebuild]  build and import the default base image
//	pier base import FILE        import an OCI image tarball as the base
//	pier <command> [args]        run an admin command on the running daemon
//	                             (same commands as ssh -p 2222 pier@host <command>)
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"pier/app"
	"pier/appdirs"
	"pier/builder"
	"pier/cluster"
	"pier/cluster/ship"
	"pier/cron"
	"pier/node"
	"pier/router"
	"pier/runtime"
	"pier/scripts"
	"pier/sshd"
	"pier/sshd/commands"
	"pier/store"
	"pier/web"
)

// The concrete parts satisfy the interfaces their consumers declare.
var (
	_ node.Runtime  = (*runtime.Containerd)(nil)
	_ node.Sites    = (*runtime.Containerd)(nil)
	_ node.Routes   = (*router.Router)(nil)
	_ node.Health   = (*router.Router)(nil)
	_ node.Activity = (*router.Router)(nil)
	_ node.Store    = (*store.Store)(nil)
	_ app.Node      = (*node.Actuator)(nil)
	_ app.Store     = desiredState{}
	_ node.Store    = desiredState{}
	_ cron.Store    = desiredState{}

	_ commands.Cluster = (*cluster.Cluster)(nil)
	_ app.Placer       = (*cluster.Cluster)(nil)
	_ app.Remote       = (*cluster.Cluster)(nil)
	_ node.Images      = (*ship.Fetcher)(nil)
	_ node.Peers       = (*cluster.Cluster)(nil)
	_ ship.Images      = (*runtime.Containerd)(nil)
	_ web.Cluster      = (*cluster.Cluster)(nil)
)

// desiredState is the store the parts read and change the desired state
// through: this machine's, with changes going through the cluster's log
// once the machine is in a cluster.
type desiredState struct {
	*store.Store
	cluster *cluster.Cluster
}

func (d desiredState) Apply(ctx context.Context, c app.Change) error { return d.cluster.Apply(ctx, c) }

// useCases are what the commands and the dashboard call: each part's
// use-cases, side by side.
type useCases struct {
	*app.Service
	*app.Routing
	*app.Auth
	*app.Shells
	*cron.Cron
	deploys deployMetrics
}

// dashboardAdmin sets the dashboard's password and issues its login links.
type dashboardAdmin struct {
	*app.Auth
	*web.LoginTokens
}

var (
	_ commands.Platform  = useCases{}
	_ web.Platform       = useCases{}
	_ commands.Dashboard = dashboardAdmin{}
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultSocket = "/run/pier/pier.sock"

// Config is everything the daemon is told at start. Apps, keys, domains and
// scale live in the store, not here.
type Config struct {
	DataDir      string  // state: database, git repositories, logs, caches
	CacheDir     string  // the built base image tarball, kept between installs
	SSHAddr      string  // git push and admin commands
	HTTPAddr     string  // the router
	HTTPSAddr    string  // the router over TLS; "" disables HTTPS
	ACMECA       string  // ACME directory URL
	ACMEEmail    string  // contact for the ACME account
	ACMERoots    string  // PEM file of the roots the ACME CA's HTTPS is trusted with; "" trusts the system's
	Domain       string  // apps answer at <app>.<Domain>
	PublicPort   int     // port in app URLs when the router is not on 80
	Socket       string  // root-only unix socket of the host CLI and git hooks
	Containerd   string  // containerd socket
	Namespace    string  // containerd namespace
	Base         string  // base image reference
	Bridge       string  // CNI bridge device
	Subnet       string  // CNI subnet
	MemoryMiB    int     // default memory limit per app process
	DiskMiB      int     // what an app process may write outside volumes and /tmp
	MaxPushMiB   int     // the largest pack a push may send
	BuildMemMiB  int     // a build's memory limit
	BuildCPU     float64 // a build's CPU limit, cores
	CgroupParent string  // the cgroup app processes' and builds' cgroups are made under
	BuildDiskMiB int     // what a build may write
	ReserveMiB   int     // free space on the data disk kept for pier's database
	Settle       time.Duration
	BuildTimeout time.Duration
	// AllowNets are private networks app containers may reach anyway.
	AllowNets []netip.Prefix
	// CronSeconds lets cron schedules take a leading seconds field. For
	// tests only: production schedules have 5 fields.
	CronSeconds bool
	Admin       string // admin listener (metrics); loopback by default

	SleepAfter     time.Duration // idle apps are frozen after this
	SleepStopAfter time.Duration // and stopped after this
	SleepTick      time.Duration // how often idleness is checked
	WakeTimeout    time.Duration // held requests of a sleeping app wait this long
	MinAvailMiB    int           // stop frozen apps while less memory is available
	MaxBodyMiB     int           // largest request body the router passes on; 0: no limit
	// Bounds of what all apps together may run at once on this machine.
	MaxInstances int // instances of every app's processes
	MaxCronRuns  int // cron runs
	MaxOneOffs   int // one-off containers (run, cron jobs)

	NodeName         string // this machine's name in a cluster
	ClusterAddr      string // the cluster port, once in a cluster
	ClusterAdvertise string // the cluster port's address as other machines reach it
	GossipAddr       string // membership and load gossip, once in a cluster
	ReservedMiB      int    // memory the cluster's placement leaves to this machine's own use
	NodeLabels       string // what this machine offers apps that ask (key=value,...)
}

func (c *Config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", "/var/lib/pier", "data directory")
	fs.StringVar(&c.CacheDir, "cache", "/var/cache/pier", "cache directory (base image tarball)")
	fs.StringVar(&c.SSHAddr, "ssh", ":2222", "SSH listen address (git push, admin commands)")
	fs.StringVar(&c.HTTPAddr, "http", ":80", "HTTP listen address of the router")
	fs.StringVar(&c.HTTPSAddr, "https", ":443", "HTTPS listen address of the router (empty to disable HTTPS)")
	fs.StringVar(&c.ACMECA, "acme-ca", router.LetsEncrypt, "ACME directory URL certificates for public names come from")
	fs.StringVar(&c.ACMEEmail, "acme-email", "", "email address given to the ACME CA (expiry notices)")
	fs.StringVar(&c.ACMERoots, "acme-ca-roots", "", "PEM file of the CA certificates the ACME CA's HTTPS is trusted with (a private ACME CA); default the system's")
	fs.StringVar(&c.Domain, "domain", "localhost", "apps answer at <app>.<domain>")
	fs.IntVar(&c.PublicPort, "public-port", 0, "port shown in app URLs (default: the HTTP listen port)")
	fs.StringVar(&c.Socket, "socket", envOr("PIER_SOCKET", defaultSocket), "control socket for the host CLI")
	fs.StringVar(&c.Containerd, "containerd", "/run/containerd/containerd.sock", "containerd socket")
	fs.StringVar(&c.Namespace, "namespace", "pier", "containerd namespace")
	fs.StringVar(&c.Base, "base", builder.DefaultBase, "base image")
	fs.StringVar(&c.Bridge, "bridge", "pier0", "CNI bridge for app containers")
	fs.StringVar(&c.Subnet, "subnet", "10.77.0.0/16", "CNI subnet for app containers")
	fs.Func("allow-net", "private IPv4 networks app containers may connect to anyway, as 192.168.1.10,10.1.0.0/16 (default none: the internet, DNS and the router only)", func(s string) error {
		nets, err := runtime.ParseAllowNets(s)
		c.AllowNets = append(c.AllowNets, nets...)
		return err
	})
	fs.IntVar(&c.MemoryMiB, "memory", 256, "default memory limit per app process, MiB")
	fs.IntVar(&c.DiskMiB, "disk", 1024, "what an app process may write outside its volumes and /tmp (into /app), MiB; past it the process is restarted")
	fs.IntVar(&c.BuildDiskMiB, "build-disk", 4096, "what a build may write, MiB; past it the push is rejected")
	fs.IntVar(&c.ReserveMiB, "disk-reserve", 64, "free space on the data disk kept for pier's database, MiB: app output past it is dropped and a build is stopped")
	fs.IntVar(&c.BuildMemMiB, "build-memory", 1024, "a build's memory limit, MiB")
	fs.StringVar(&c.CgroupParent, "cgroup-parent", "", "a cgroup (such as pier) to make app processes' and builds' cgroups under, so that a limit set on it bounds them all; default: under the hierarchy's root")
	fs.Float64Var(&c.BuildCPU, "build-cpu", float64(max(1, goruntime.NumCPU()-1)), "a build's CPU limit, cores (it also gets a small CPU weight: apps come first)")
	fs.IntVar(&c.MaxPushMiB, "max-push", 512, "the largest push (git pack) taken, MiB; the revision deployed may unpack to 4 times that")
	fs.DurationVar(&c.BuildTimeout, "build-timeout", 15*time.Minute, "longest a build may take, predeploy included; past it the push is rejected")
	fs.DurationVar(&c.Settle, "settle", time.Second, "how long after they started a new release's processes are watched for an early crash, which the push reports (0: not watched)")
	fs.BoolVar(&c.CronSeconds, "cron-seconds", false, "for tests: cron schedules may start with a seconds field")
	fs.StringVar(&c.Admin, "admin", "127.0.0.1:9180", "admin listener: /metrics and the dashboard (empty to disable)")
	fs.DurationVar(&c.SleepAfter, "sleep-after", 15*time.Minute, "freeze apps idle this long (app.json pier.sleep and sleep:set override)")
	fs.DurationVar(&c.SleepStopAfter, "sleep-stop-after", 2*time.Hour, "stop apps idle this long")
	fs.DurationVar(&c.SleepTick, "sleep-tick", 5*time.Second, "how often idle apps are looked for")
	fs.DurationVar(&c.WakeTimeout, "wake-timeout", 30*time.Second, "how long requests to a sleeping app wait for it to start")
	fs.IntVar(&c.MinAvailMiB, "min-available", 0, "stop frozen apps while less memory than this is available, MiB (default: 10% of RAM)")
	fs.StringVar(&c.NodeName, "node-name", "", "this machine's name in a cluster (default: the host name)")
	fs.StringVar(&c.ClusterAddr, "cluster", fmt.Sprintf(":%d", cluster.DefaultPort), "cluster port listen address, used once this machine is in a cluster")
	fs.StringVar(&c.ClusterAdvertise, "cluster-advertise", "", "cluster port address other machines reach (default: from --cluster, or this machine's first address)")
	fs.StringVar(&c.NodeLabels, "node-labels", "", "labels of this machine in a cluster, as disk=ssd,zone=attic: an app whose app.json has pier.node_labels runs only where they match")
	fs.IntVar(&c.ReservedMiB, "memory-reserved", 0, "memory, MiB, that the cluster's placement leaves to this machine's own use (other services on it)")
	fs.StringVar(&c.GossipAddr, "gossip", fmt.Sprintf(":%d", cluster.DefaultGossipPort), "gossip listen address (UDP and TCP), used once this machine is in a cluster")
	fs.IntVar(&c.MaxInstances, "max-instances", app.DefaultMaxInstances, "most instances of every app's processes together; a ps:scale or a deploy past it is refused")
	fs.IntVar(&c.MaxCronRuns, "max-cron-runs", cron.DefaultMaxRuns, "most cron runs at once on this machine; a run due past it is skipped and recorded so")
	fs.IntVar(&c.MaxOneOffs, "max-one-offs", node.DefaultMaxOneOffs, "most one-off containers (run, cron jobs) at once on this machine; past it run is refused")
	fs.IntVar(&c.MaxBodyMiB, "max-body", router.DefaultMaxBodyBytes>>20, "largest request body the router passes to an app, MiB (0 for no limit); larger ones get 413")
}

// warnings are what the settings allow but an admin should hear of.
func (c *Config) warnings() []string {
	var w []string
	if c.HTTPSAddr == "" && !router.IsInternal(c.Domain) {
		w = append(w, fmt.Sprintf("HTTPS is off (--https \"\") on the public domain %s: the dashboard's password and every app's traffic cross the network in the clear", c.Domain))
	}
	return w
}

func (c *Config) validate() error {
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("--data must be an absolute path, got %q", c.DataDir)
	}
	if err := app.ValidName(c.Namespace); err != nil {
		return fmt.Errorf("--namespace: %w", err)
	}
	if c.MemoryMiB < app.MinMemoryMiB {
		return fmt.Errorf("--memory must be at least %d (MiB), got %d", app.MinMemoryMiB, c.MemoryMiB)
	}
	if c.BuildMemMiB < app.MinMemoryMiB || c.BuildCPU < 0.1 {
		return fmt.Errorf("--build-memory must be at least %d (MiB) and --build-cpu at least 0.1 (cores), got %d and %g", app.MinMemoryMiB, c.BuildMemMiB, c.BuildCPU)
	}
	if c.MaxPushMiB < 1 {
		return fmt.Errorf("--max-push must be at least 1 (MiB), got %d", c.MaxPushMiB)
	}
	if err := runtime.ValidCgroupParent(c.CgroupParent); err != nil {
		return fmt.Errorf("--cgroup-parent: %w", err)
	}
	if c.DiskMiB < 16 || c.BuildDiskMiB < 64 {
		return fmt.Errorf("--disk must be at least 16 and --build-disk at least 64 (MiB), got %d and %d", c.DiskMiB, c.BuildDiskMiB)
	}
	if c.ReserveMiB < 0 {
		return fmt.Errorf("--disk-reserve must be at least 0 (MiB), got %d", c.ReserveMiB)
	}
	if c.SleepAfter < time.Second || c.SleepStopAfter < c.SleepAfter {
		return fmt.Errorf("--sleep-after must be at least 1s and --sleep-stop-after at least as long, got %s and %s", c.SleepAfter, c.SleepStopAfter)
	}
	if c.SleepTick < 10*time.Millisecond || c.WakeTimeout < time.Second {
		return fmt.Errorf("--sleep-tick must be at least 10ms and --wake-timeout at least 1s")
	}
	if c.MaxInstances < 1 || c.MaxCronRuns < 1 || c.MaxOneOffs < 1 {
		return fmt.Errorf("--max-instances, --max-cron-runs and --max-one-offs must each be at least 1, got %d, %d and %d", c.MaxInstances, c.MaxCronRuns, c.MaxOneOffs)
	}
	if c.MaxBodyMiB < 0 {
		return fmt.Errorf("--max-body must be 0 (no limit) or more (MiB), got %d", c.MaxBodyMiB)
	}
	if c.HTTPSAddr != "" && port(c.HTTPSAddr) == 0 {
		return fmt.Errorf("--https must be a listen address like :443 or 127.0.0.1:8443, got %q", c.HTTPSAddr)
	}
	c.Domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(c.Domain)), ".")
	if c.PublicPort == 0 {
		if _, p, err := net.SplitHostPort(c.HTTPAddr); err == nil {
			fmt.Sscan(p, &c.PublicPort)
		}
	}
	return nil
}

// routerPorts are the router's ports on this host: the only ones apps may
// connect to on the host, to reach each other through the router.
func (c *Config) routerPorts() []int {
	var ports []int
	for _, addr := range []string{c.HTTPAddr, c.HTTPSAddr} {
		if p := port(addr); p != 0 {
			ports = append(ports, p)
		}
	}
	return ports
}

// maxBodyBytes is --max-body as router.Config takes it, where 0 is the
// default and a negative value no limit.
func (c *Config) maxBodyBytes() int64 {
	if c.MaxBodyMiB == 0 {
		return -1
	}
	return int64(c.MaxBodyMiB) << 20
}

func (c *Config) runtime() runtime.Config {
	return runtime.Config{
		Address: c.Containerd, Namespace: c.Namespace,
		DataDir: filepath.Join(c.DataDir, "runtime"),
		Network: runtime.NetworkConfig{Bridge: c.Bridge, Subnet: c.Subnet, Name: c.Namespace,
			HostPorts: c.routerPorts(), AllowNets: c.AllowNets},
		MemoryLimit: int64(c.MemoryMiB) << 20,
		DiskLimit:   int64(c.DiskMiB) << 20, BuildDiskLimit: int64(c.BuildDiskMiB) << 20,
		DiskReserve:      int64(c.ReserveMiB) << 20,
		BuildMemoryLimit: int64(c.BuildMemMiB) << 20, BuildCPU: c.BuildCPU, CgroupParent: c.CgroupParent,
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		args = []string{"help"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], log)
	case "base":
		err = base(ctx, args[1:], log)
	case "hook":
		if len(args) == 2 && args[1] == "pre-receive" {
			return sshd.PreReceive(ctx, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
		}
		err = errors.New("usage: pier hook pre-receive (run by git)")
	case "-h", "--help":
		args = []string{"help"}
		fallthrough
	default:
		code, err := sshd.Exec(ctx, envOr("PIER_SOCKET", defaultSocket), args, os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pier:", err)
			return 1
		}
		return code
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pier:", err)
		return 1
	}
	return 0
}

// serve runs the daemon until SIGINT/SIGTERM.
func serve(ctx context.Context, args []string, log *slog.Logger) error {
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	st, err := store.Open(filepath.Join(cfg.DataDir, "pier.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	rt, err := runtime.Open(ctx, cfg.runtime(), log)
	if err != nil {
		return err
	}
	defer rt.Close()
	// What a crash left (mounts, temp dirs, build snapshots, network
	// namespaces) goes before anything builds or starts.
	if err := rt.RemoveOrphans(ctx); err != nil {
		log.Warn("remove what a previous daemon left", "err", err)
	}
	// Pushed trees are unpacked by the pre-receive hook, which inherits
	// the daemon's environment, into the runtime's temp dir: on the data
	// disk, not a small /tmp, and emptied above when pier starts.
	tmp, err := rt.TempDir()
	if err != nil {
		return err
	}
	os.Setenv("PIER_TMP", tmp)
	if ok, err := rt.HasImage(ctx, cfg.Base); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("base image %s is not imported: run `pier base build` (or scripts/run.sh)", cfg.Base)
	}
	cacheDir := filepath.Join(cfg.DataDir, "cache")
	bld := builder.New(builder.Config{
		Base: cfg.Base, CacheDir: cacheDir,
		CABundle: rt.CABundle(), Log: log, Timeout: cfg.BuildTimeout,
		Reserve: int64(cfg.ReserveMiB) << 20,
	}, rt)
	gitDir := filepath.Join(cfg.DataDir, "git")
	failedDeploys := appdirs.NewTexts(filepath.Join(cfg.DataDir, "failed-deploys"))
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	appNet, err := netip.ParsePrefix(cfg.Subnet)
	if err != nil {
		return fmt.Errorf("--subnet %q: %w", cfg.Subnet, err)
	}
	rtr := router.New(router.Config{Domain: cfg.Domain, PublicPort: cfg.PublicPort, Log: log, AccessLog: os.Stderr,
		AppNetworks: []netip.Prefix{appNet.Masked()},
		WakeTimeout: cfg.WakeTimeout, Metrics: metrics, MaxBodyBytes: cfg.maxBodyBytes()})
	labels, err := app.ParseNodeLabels(cfg.NodeLabels)
	if err != nil {
		return fmt.Errorf("--node-labels: %w", err)
	}
	// The cluster: nothing runs unless this machine is in one. Its
	// machines serve each other's apps through their routers.
	// svc and act are set below; the cluster starts the releases and
	// runs the one-offs other machines ask for through them. Cron's runs
	// go where the cluster says.
	var (
		svc    *app.Service
		act    *node.Actuator
		shells *app.Shells
	)
	cl, err := cluster.New(cluster.Config{
		Activate: func(ctx context.Context, rel app.Release, out io.Writer) error {
			return svc.ActivateHere(ctx, rel, out)
		},
		RunOnce: func(ctx context.Context, o app.OneOff) (int, error) { return act.RunOnce(ctx, o) },
		Run:     func(ctx context.Context, r app.RunRequest) (int, error) { return svc.Run(ctx, r) },
		Enter:   func(ctx context.Context, r app.EnterRequest) (int, error) { return shells.Enter(ctx, r) },
		Dir:     filepath.Join(cfg.DataDir, "cluster"), Name: cfg.NodeName,
		Addr: cfg.ClusterAddr, Advertise: cfg.ClusterAdvertise, Gossip: cfg.GossipAddr, Store: st, Log: log,
		Apps: http.HandlerFunc(rtr.ServeForwarded), Images: ship.Handler(rt), Serving: rtr.LocalBackends, Memory: reserve(runtime.Memory, int64(cfg.ReservedMiB)<<20),
		Instances: func() int { return running(ctx, rt) }, Labels: labels,
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	rtr.SetForwarder(cl.Transport(), cl.Self)
	images := &ship.Fetcher{Images: rt, Client: cl.Client(), Prefix: cluster.ImagesPath, Others: cl.Others,
		Log: log.With("component", "ship")}
	desired := desiredState{st, cl}
	sleep := app.SleepDefaults{After: cfg.SleepAfter, StopAfter: cfg.SleepStopAfter}
	act = node.New(node.Settings{Sleep: sleep, MinAvailable: int64(cfg.MinAvailMiB) << 20, Self: cl.Self, Settle: cfg.Settle, MaxOneOffs: cfg.MaxOneOffs}, node.Deps{
		Store: desired, Runtime: rt, Sites: rt, Routes: rtr, Health: rtr, Activity: rtr, Memory: runtime.Memory, Usage: rt, Images: images, Peers: cl,
		Log: log.With("component", "node"),
	})
	metrics.MustRegister(appMetrics{census: act.Census, log: log})
	crn := cron.New(cron.Deps{Store: desired, Runs: newCountedRuns(st, metrics), OneOffs: cl, Lock: act.Lock, Log: log.With("component", "cron"),
		Seconds: cfg.CronSeconds, Leads: cl.Leads, MaxRuns: cfg.MaxCronRuns})
	set := app.Settings{Sleep: sleep, CronSeconds: cfg.CronSeconds, Domain: cfg.Domain, Self: cl.Self, MaxInstances: cfg.MaxInstances}
	deps := app.Deps{
		Store: desired, Builder: bld, Node: act, Placer: cl, Remote: cl, Logs: rt, Log: log.With("component", "app"), Audit: st,
		Exec: rt, Volumes: rt, Shells: cl,
		// What runs under an app's name: its schedule, its processes.
		Occupants: []app.Occupant{crn, act},
		// Logs and volumes, build caches, git repositories.
		Files: []app.Files{rt, appdirs.Dirs{Dir: cacheDir}, appdirs.Dirs{Dir: gitDir, Suffix: ".git"}, failedDeploys},
		// This machine's journal of renames under way.
		Renames: st,
	}
	auth := app.NewAuth(deps)
	svc = app.New(set, deps)
	shells = app.NewShells(set, deps)
	uc := useCases{Service: svc, Routing: app.NewRouting(set, deps), Auth: auth, Shells: shells, Cron: crn,
		deploys: newDeployMetrics(metrics)}
	rtr.OnWake(act.Wake)
	rtr.OnExplain(svc.Unavailable)
	var certs commands.Certs
	if cfg.HTTPSAddr != "" {
		roots, err := loadRoots(cfg.ACMERoots)
		if err != nil {
			return err
		}
		// Certificates go through the cluster's log like the rest of
		// the desired state: obtained once, served by every machine.
		err = rtr.EnableTLS(ctx, router.TLSConfig{
			Storage: st.CertsThrough(desired), ACMEDirectory: cfg.ACMECA, ACMEEmail: cfg.ACMEEmail, ACMERoots: roots,
			HTTPPort: port(cfg.HTTPAddr), HTTPSPort: port(cfg.HTTPSAddr), CatchUp: cl.CatchUp,
		})
		if err != nil {
			return err
		}
		certs = rtr
	}
	tokens := &web.LoginTokens{}
	dash := web.New(web.Config{Platform: uc, Log: log, URL: rtr.URL, Certs: certs, Memory: act.Memory, Version: version,
		SSHPort: port(cfg.SSHAddr), DefaultMemory: int64(cfg.MemoryMiB) << 20,
		Traffic: func(app string) web.Traffic { return web.Traffic(rtr.Traffic(app)) },
		Tokens:  tokens, Cluster: cl})
	rtr.SetDashboard(dash)
	go dash.Run(ctx)
	go rt.WatchDisk(ctx, 5*time.Second)
	cmds := commands.New(uc, commands.Info{Version: version, URL: rtr.URL, Certs: certs, Sources: sshd.Sources{GitDir: gitDir, Tmp: tmp},
		FailedDeploys: failedDeploys,
		Dashboard:     dashboardAdmin{auth, tokens}, DashboardURLs: dashboardURLs(rtr, cfg.Admin), Cluster: cl})
	ssh, err := sshd.New(sshd.Config{
		Addr: cfg.SSHAddr, HostKeyPath: filepath.Join(cfg.DataDir, "ssh_host_ed25519_key"),
		SocketPath: cfg.Socket, GitDir: gitDir, Binary: self,
		MaxPush: int64(cfg.MaxPushMiB) << 20, Log: log,
	}, auth, cmds)
	if err != nil {
		return err
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}

	g, ctx := errgroup.WithContext(ctx)
	watch := act.Watch(ctx) // before anything can make a change
	// A machine in a cluster rejoins it: its log catches its store up.
	if err := cl.Start(ctx); err != nil {
		return err
	}
	g.Go(func() error { watch(); return nil })
	// A rename a crash interrupted ends whole before anything serves;
	// then the images no app or kept release has go.
	if err := svc.FinishRenames(ctx); err != nil {
		log.Error("finish interrupted renames", "err", err)
	}
	if kept, apps, err := svc.KeptImages(ctx); err != nil {
		log.Warn("list the images to keep", "err", err)
	} else if err := rt.RemoveOrphanImages(ctx, kept, apps); err != nil {
		log.Warn("remove orphaned images", "err", err)
	}
	// Until the first reconcile has set every app's routes, a request
	// for an app waits for them rather than hearing it is not there.
	routed := rtr.Starting()
	g.Go(func() error { return rtr.Serve(ctx, httpLn) })
	if cfg.HTTPSAddr != "" {
		httpsLn, err := net.Listen("tcp", cfg.HTTPSAddr)
		if err != nil {
			return fmt.Errorf("router: %w", err)
		}
		g.Go(func() error { return rtr.ServeTLS(ctx, httpsLn) })
	}
	g.Go(func() error { return ssh.Serve(ctx) })
	g.Go(func() error { rt.CollectLogs(ctx); return nil })
	// Apps reach each other by their public names, which may resolve to
	// another machine of the cluster: its router ports open to them, and
	// what comes from its address passes no allowlist unasked.
	g.Go(func() error {
		cl.WatchPeers(ctx, 2*time.Second, func(addrs []netip.Addr) error {
			rtr.SetPeers(addrs)
			return rt.SetPeers(addrs)
		})
		return nil
	})
	g.Go(func() error { act.Idle(ctx, cfg.SleepTick); return nil })
	if cfg.Admin != "" {
		adminLn, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
		mux.Handle("/", dash)
		admin := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			<-ctx.Done()
			return admin.Close()
		})
		g.Go(func() error {
			if err := admin.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		if err := rt.RemoveLeftovers(ctx); err != nil {
			log.Warn("remove leftover containers", "err", err)
		}
		// Cron starts once the one-off containers of a previous daemon
		// are gone, so none of its own runs is taken for a leftover.
		g.Go(func() error { return crn.Serve(ctx) })
		if err := act.Reconcile(ctx); err != nil {
			log.Error("reconcile", "err", err)
		}
		routed()
		log.Debug("start-up pages released", "bytes", releaseStartupPages())
		act.Heal(ctx, 2*time.Second)
		return nil
	})
	for _, w := range cfg.warnings() {
		log.Warn(w)
	}
	log.Info("pier is serving", "version", version, "http", cfg.HTTPAddr, "https", cfg.HTTPSAddr, "ssh", cfg.SSHAddr,
		"domain", cfg.Domain, "socket", cfg.Socket, "data", cfg.DataDir)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info("pier stopped")
	return err
}

// base builds or imports the base image.
func base(ctx context.Context, args []string, log *slog.Logger) error {
	var cfg Config
	fs := flag.NewFlagSet("base", flag.ContinueOnError)
	cfg.flags(fs)
	rebuild := fs.Bool("rebuild", false, "rebuild the base tarball even if cached")
	usage := errors.New("usage: pier base build [--rebuild] | pier base import FILE")
	if len(args) == 0 {
		return usage
	}
	verb := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	rt, err := runtime.Open(ctx, cfg.runtime(), log)
	if err != nil {
		return err
	}
	defer rt.Close()
	switch {
	case verb == "build" && fs.NArg() == 0:
		return baseBuild(ctx, rt, cfg, *rebuild, os.Stdout)
	case verb == "import" && fs.NArg() == 1:
		names, err := rt.ImportBase(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Printf("imported %v; start pier with --base %s to use it\n", names, names[0])
		return nil
	}
	return usage
}

func baseBuild(ctx context.Context, rt *runtime.Containerd, cfg Config, rebuild bool, out io.Writer) error {
	if ok, err := rt.HasImage(ctx, cfg.Base); err != nil {
		return err
	} else if ok && !rebuild {
		fmt.Fprintf(out, "-----> Base image %s is ready\n", cfg.Base)
		return nil
	}
	tarball := builder.BaseTarball(cfg.CacheDir)
	if _, err := os.Stat(tarball); err != nil || rebuild {
		fmt.Fprintf(out, "-----> Building base image %s (a few minutes, once; cached at %s)\n", cfg.Base, tarball)
		start := time.Now()
		if err := builder.BuildBase(ctx, scripts.MkBase, cfg.Base, tarball, out); err != nil {
			return err
		}
		fmt.Fprintf(out, "-----> Base built in %s\n", time.Since(start).Round(time.Second))
	}
	if _, err := rt.ImportBase(ctx, tarball); err != nil {
		return err
	}
	fmt.Fprintf(out, "-----> Imported base image %s\n", cfg.Base)
	return nil
}

// dashboardURLs are where the dashboard answers: pier.<domain> through the
// router, and the admin listener (its loopback address if it listens on
// every interface).
func dashboardURLs(rtr *router.Router, admin string) []string {
	urls := []string{rtr.DashboardURL()}
	if host, port, err := net.SplitHostPort(admin); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		urls = append(urls, "http://"+net.JoinHostPort(host, port))
	}
	return urls
}

// running counts the app processes running on this machine.
func running(ctx context.Context, rt *runtime.Containerd) int {
	ins, err := rt.Instances(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, in := range ins {
		if in.Running {
			n++
		}
	}
	return n
}

// port is the port of a listen address, 0 if it has none.
func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// loadRoots reads a PEM file of CA certificates; nil for "".
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--acme-ca-roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--acme-ca-roots: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// reserve returns memory with reserved bytes taken from what is available:
// what the cluster's placement sees of this machine.
func reserve(memory func() (avail, total int64), reserved int64) func() (int64, int64) {
	return func() (int64, int64) {
		avail, total := memory()
		return max(avail-reserved, 0), total
	}
}

// Package node is this machine's actuator: it makes what runs here match
// the desired state the store records. It rolls releases out with zero
// downtime, reconciles after a restart, restarts crashed processes with
// backoff, puts idle apps to sleep and wakes them, mounts static sites and
// keeps the router's table in step — for the apps assigned to this node
// (today every app: there is one node).
//
// It reacts to applied changes (Run watches the store), so a change made by
// any writer converges; the use-cases in package app call it directly only
// where a user waits for the outcome (a deploy's health-gated switch, a
// wake). It holds all of pier's node-local state: per-app locks, crash
// backoff, wake times.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"pier/app"
)

// Settings are the actuator's knobs; zero values take the defaults.
type Settings struct {
	// ReadyTimeout bounds how long a new web instance has to answer.
	ReadyTimeout time.Duration // default 60s
	// Drain is how long a retired web instance is left alone after the route
	// moved away from it, before pier waits for its in-flight requests.
	Drain time.Duration // default 500ms
	// MaxDrain bounds the wait for in-flight requests (long polls, open
	// WebSockets) before a retired instance is stopped anyway.
	MaxDrain time.Duration // default 30s
	// Settle is how long after its processes started a new release is
	// watched, once it passed its checks, for a process that exits at
	// once: the push says so. 0 watches nothing.
	Settle time.Duration
	// WebPort is the PORT web processes listen on inside their network namespace.
	WebPort int // default 5000
	// Sleep is the sleep policy of apps that set none.
	Sleep app.SleepDefaults
	// MinAvailable is the memory (bytes) below which frozen apps are stopped,
	// least recently used first. Default: 10% of the machine's memory.
	MinAvailable int64
	// Self names this machine in its cluster, "" while it is in none
	// (nil: never in one). An app placed on other machines runs there,
	// not here: this machine routes its requests to them.
	Self func() string
	// MaxOneOffs bounds the one-off containers running on this machine at
	// once, every app's together (see oneOffSlots); default
	// DefaultMaxOneOffs.
	MaxOneOffs int
}

func (s *Settings) defaults() {
	if s.MaxOneOffs <= 0 {
		s.MaxOneOffs = DefaultMaxOneOffs
	}
	if s.Self == nil {
		s.Self = func() string { return "" }
	}
	if s.ReadyTimeout == 0 {
		s.ReadyTimeout = 60 * time.Second
	}
	if s.Drain == 0 {
		s.Drain = 500 * time.Millisecond
	}
	if s.MaxDrain == 0 {
		s.MaxDrain = 30 * time.Second
	}
	s.Sleep = s.Sleep.WithDefaults()
	if s.WebPort == 0 {
		s.WebPort = 5000
	}
}

// Deps are the parts the actuator drives. Store, Runtime, Routes and Log
// are required.
type Deps struct {
	Store   Store
	Runtime Runtime
	// Sites mounts static sites' files; nil: a static site cannot deploy.
	Sites  Sites
	Routes Routes
	Health Health
	// Activity tells idle apps from busy ones; Memory reports free memory.
	Activity Activity
	Memory   MemoryProbe
	// Usage reports instances' memory; nil leaves it unknown.
	Usage app.Usage
	// Images fetches app images from other machines of a cluster; nil:
	// an image this machine lacks fails to start.
	Images Images
	// Peers says when the machines an app moves to serve it, for this
	// one to stop serving it then; nil: it stops at once.
	Peers Peers
	Log   *slog.Logger
}

// Actuator converges this machine. It is safe for concurrent use.
type Actuator struct {
	store    Store
	runtime  Runtime
	sites    Sites
	routes   Routes
	images   Images
	peers    Peers
	health   Health
	activity Activity
	memory   MemoryProbe
	usage    app.Usage
	log      *slog.Logger
	set      Settings

	mu       sync.Mutex // guards the maps below
	locks    map[string]*sync.Mutex
	crashes  map[string]*crashState // by crashKey
	awake    map[string]time.Time   // when an app last started being awake
	retiring map[string]bool        // instances being drained and stopped
	moving   map[string]bool        // apps serving here until the machines they moved to do

	watch   watchState
	oneOffs oneOffSlots
}

// New returns an actuator over d.
func New(set Settings, d Deps) *Actuator {
	set.defaults()
	return &Actuator{
		store: d.Store, runtime: d.Runtime, sites: d.Sites, routes: d.Routes, health: d.Health, images: d.Images, peers: d.Peers,
		activity: d.Activity, memory: d.Memory, usage: d.Usage, log: d.Log, set: set,
		locks: map[string]*sync.Mutex{}, crashes: map[string]*crashState{}, awake: map[string]time.Time{},
		retiring: map[string]bool{}, moving: map[string]bool{}, oneOffs: oneOffSlots{max: set.MaxOneOffs},
	}
}

// Lock serializes work on one app (deploys, converges, sleep and wake) and
// returns the unlock. The use-cases hold it around a change they make and
// its rollout; methods documented "the caller holds the app's lock" need it.
func (n *Actuator) Lock(appName string) (unlock func()) {
	n.mu.Lock()
	l, ok := n.locks[appName]
	if !ok {
		l = &sync.Mutex{}
		n.locks[appName] = l
	}
	n.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Instances lists an app's instances on this machine, running or not.
func (n *Actuator) Instances(ctx context.Context, appName string) []app.Instance {
	return n.instancesOf(ctx, appName, func(app.Instance) bool { return true })
}

// instancesOf lists an app's instances that match keep.
func (n *Actuator) instancesOf(ctx context.Context, name string, keep func(app.Instance) bool) []app.Instance {
	all, err := n.runtime.AppInstances(ctx, name)
	if err != nil {
		n.log.Warn("list instances", "app", name, "err", err)
		return nil
	}
	var out []app.Instance
	for _, in := range all {
		if keep(in) {
			out = append(out, in)
		}
	}
	return out
}

func (n *Actuator) stop(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.runtime.Stop(ctx, id); err != nil {
		n.log.Warn("stop instance", "id", id, "err", err)
	}
}

// RemoveImage deletes an app image no release keeps; a failure is logged.
func (n *Actuator) RemoveImage(image string) {
	if image == "" {
		return
	}
	if err := n.runtime.RemoveImage(context.Background(), image); err != nil {
		n.log.Warn("remove image", "image", image, "err", err)
	}
}

// RunOnce runs a one-off container (`run`, a cron job) to completion on
// this machine and returns its exit code. Past the machine's or the app's
// bound on one-offs at once (Settings.MaxOneOffs, MaxOneOffsPerApp) it is
// refused at once with an error that says so. In a cluster, an image this
// machine lacks is fetched first from a machine the app runs on.
func (n *Actuator) RunOnce(ctx context.Context, o app.OneOff) (int, error) {
	if err := n.oneOffs.take(o.App); err != nil {
		return -1, err
	}
	defer n.oneOffs.release(o.App)
	if a, err := n.store.App(ctx, o.App); err == nil && n.set.Self() != "" {
		if err := n.haveImage(ctx, a, app.Release{Image: o.Image}); err != nil {
			return 0, err
		}
	}
	return n.runtime.RunOnce(ctx, o)
}

// Memory returns the memory an app's instances use now, in bytes, summed
// over the instances whose use is known; ok is false if none is known
// (nothing runs, or no Usage was given).
func (n *Actuator) Memory(ctx context.Context, name string) (bytes int64, ok bool) {
	if n.usage == nil || app.ValidName(name) != nil {
		return 0, false
	}
	for _, in := range n.instancesOf(ctx, name, func(in app.Instance) bool { return in.Running }) {
		if b, known := n.usage.InstanceMemory(in.ID); known {
			bytes += b
			ok = true
		}
	}
	return bytes, ok
}

// instanceID names an instance: the app and a random suffix (container IDs
// are limited to 76 characters; app names to 63).
func instanceID(appName string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return appName + "-" + hex.EncodeToString(b)
}

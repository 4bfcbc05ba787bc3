package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Settings are the deploy pipeline's knobs; zero values take the defaults.
type Settings struct {
	// ReadyTimeout bounds how long a new web instance has to answer.
	ReadyTimeout time.Duration // default 60s
	// Drain is how long a retired web instance is left alone after the route
	// moved away from it, before pier waits for its in-flight requests.
	Drain time.Duration // default 500ms
	// MaxDrain bounds the wait for in-flight requests (long polls, open
	// WebSockets) before a retired instance is stopped anyway.
	MaxDrain time.Duration // default 30s
	// WebPort is the PORT web processes listen on inside their network namespace.
	WebPort int // default 5000
	// KeepReleases is how many releases (and their images) are kept for rollback.
	KeepReleases int // default 5
	// CronSeconds makes cron schedules take an optional leading seconds
	// field, so tests need not wait minutes. For tests only.
	CronSeconds bool
	// Sleep is the sleep policy of apps that set none.
	Sleep SleepDefaults
	// WakeTimeout bounds a wake; held requests then get a 503.
	WakeTimeout time.Duration // default 30s
	// MinAvailable is the memory (bytes) below which frozen apps are stopped,
	// least recently used first. Default: 10% of the machine's memory.
	MinAvailable int64
	// Domain is pier's parent domain: apps answer at <app>.<Domain>.
	// Lowercase, no trailing dot. Default "localhost".
	Domain string
}

func (s *Settings) defaults() {
	if s.ReadyTimeout == 0 {
		s.ReadyTimeout = 60 * time.Second
	}
	if s.Drain == 0 {
		s.Drain = 500 * time.Millisecond
	}
	if s.MaxDrain == 0 {
		s.MaxDrain = 30 * time.Second
	}
	if s.KeepReleases == 0 {
		s.KeepReleases = 5
	}
	if s.Sleep.After == 0 {
		s.Sleep.After = 15 * time.Minute
	}
	if s.Sleep.StopAfter == 0 {
		s.Sleep.StopAfter = 2 * time.Hour
	}
	if s.WakeTimeout == 0 {
		s.WakeTimeout = 30 * time.Second
	}
	if s.WebPort == 0 {
		s.WebPort = 5000
	}
	if s.Domain == "" {
		s.Domain = "localhost"
	}
}

// Deps are the parts the Service drives.
type Deps struct {
	Store   Store
	Builder Builder
	Runtime Runtime
	// Sites mounts static sites' files; nil: a static site cannot deploy.
	Sites  Sites
	Routes Routes
	Health Health
	Logs   LogSource
	// Activity tells idle apps from busy ones; Memory reports free memory.
	Activity Activity
	Memory   MemoryProbe
	Audit    Audit
	Log      *slog.Logger
	// Usage reports instances' memory; nil leaves it unknown.
	Usage Usage

	// CronRuns keeps the history of cron runs.
	CronRuns CronRuns
	// Files are the parts' per-app files on disk, moved by a rename and
	// removed by a destroy.
	Files []Files
}

// Service is the entry point for everything users ask of pier. It is safe for
// concurrent use; operations on one app are serialized.
type Service struct {
	store    Store
	builder  Builder
	runtime  Runtime
	sites    Sites
	routes   Routes
	health   Health
	logs     LogSource
	activity Activity
	memory   MemoryProbe
	usage    Usage
	files    []Files
	audit    Audit
	log      *slog.Logger
	set      Settings

	mu      sync.Mutex // guards locks and crashes
	locks   map[string]*sync.Mutex
	crashes map[string]*crashState // by crashKey
	awake   map[string]time.Time   // when an app last started being awake

	cron     *scheduler
	cronp    cronParser
	cronRuns CronRuns

	tokens loginTokens // one-time dashboard login tokens
}

// New returns a Service over deps.
func New(set Settings, d Deps) *Service {
	set.defaults()
	return &Service{
		store: d.Store, builder: d.Builder, runtime: d.Runtime, sites: d.Sites,
		routes: d.Routes, health: d.Health, logs: d.Logs, log: d.Log, set: set,
		locks: map[string]*sync.Mutex{}, crashes: map[string]*crashState{}, awake: map[string]time.Time{},
		activity: d.Activity, memory: d.Memory, audit: d.Audit, usage: d.Usage, files: d.Files,
		cron: newScheduler(), cronp: cronParser{seconds: set.CronSeconds}, cronRuns: d.CronRuns,
	}
}

// lock serializes work on one app (pushes, restarts) and returns the unlock.
func (s *Service) lock(app string) func() {
	s.mu.Lock()
	l, ok := s.locks[app]
	if !ok {
		l = &sync.Mutex{}
		s.locks[app] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// CreateApp creates an empty app. ErrExists if it exists.
func (s *Service) CreateApp(ctx context.Context, name string) (App, error) {
	if err := ValidName(name); err != nil {
		return App{}, err
	}
	if name == ReservedName {
		return App{}, fmt.Errorf("the app name %q is reserved: the dashboard answers at %s.<domain>", name, name)
	}
	a := App{Name: name, CreatedAt: time.Now().UTC()}
	if err := s.apply(ctx, CreateApp{App: a}); err != nil {
		return App{}, fmt.Errorf("create app %s: %w", name, err)
	}
	return a, nil
}

// Apps lists apps by name.
func (s *Service) Apps(ctx context.Context) ([]App, error) {
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	return apps, nil
}

// App returns one app. ErrNotFound if absent.
func (s *Service) App(ctx context.Context, name string) (App, error) {
	if err := ValidName(name); err != nil {
		return App{}, err
	}
	return s.load(ctx, name)
}

// locked validates name, takes the app's lock and loads the app. On success
// the caller must call unlock.
func (s *Service) locked(ctx context.Context, name string) (a App, unlock func(), err error) {
	if err := ValidName(name); err != nil {
		return App{}, nil, err
	}
	unlock = s.lock(name)
	if a, err = s.load(ctx, name); err != nil {
		unlock()
		return App{}, nil, err
	}
	return a, unlock, nil
}

// load reads an app, saying plainly when it does not exist.
func (s *Service) load(ctx context.Context, name string) (App, error) {
	a, err := s.store.App(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return App{}, notFoundf("app %q does not exist", name)
	}
	return a, err
}

// Releases lists an app's releases, newest first.
func (s *Service) Releases(ctx context.Context, name string) ([]Release, error) {
	if _, err := s.App(ctx, name); err != nil {
		return nil, err
	}
	return s.store.Releases(ctx, name)
}

// ensureApp returns the app, creating it on first push.
func (s *Service) ensureApp(ctx context.Context, name string) (App, bool, error) {
	a, err := s.store.App(ctx, name)
	if err == nil {
		return a, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return App{}, false, err
	}
	a, err = s.CreateApp(ctx, name)
	return a, err == nil, err
}

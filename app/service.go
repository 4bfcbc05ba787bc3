package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// Settings are the use-cases' knobs; zero values take the defaults.
type Settings struct {
	// KeepReleases is how many releases (and their images) are kept for rollback.
	KeepReleases int // default 5
	// CronSeconds makes cron schedules take an optional leading seconds
	// field, so tests need not wait minutes. For tests only.
	CronSeconds bool
	// Sleep is the sleep policy of apps that set none.
	Sleep SleepDefaults
	// Domain is pier's parent domain: apps answer at <app>.<Domain>.
	// Lowercase, no trailing dot. Default "localhost".
	Domain string
	// Self names this machine in its cluster, "" while it is in none
	// (nil: never in one). A release this machine starts is placed on
	// it.
	Self func() string
	// MaxInstances bounds the instances of every app together: a scale
	// or a deploy past it is refused (see checkInstances). Default
	// DefaultMaxInstances.
	MaxInstances int
}

func (s *Settings) defaults() {
	if s.MaxInstances <= 0 {
		s.MaxInstances = DefaultMaxInstances
	}
	if s.Self == nil {
		s.Self = func() string { return "" }
	}
	if s.KeepReleases == 0 {
		s.KeepReleases = 5
	}
	s.Sleep = s.Sleep.WithDefaults()
	if s.Domain == "" {
		s.Domain = "localhost"
	}
}

// Deps are the parts the Service drives.
type Deps struct {
	Store   Store
	Builder Builder
	// Node is this machine's actuator (package node).
	Node  Node
	Logs  LogSource
	Audit Audit
	Log   *slog.Logger

	// Placer chooses the machines of a cluster an app's instances run on
	// (ps:scale); nil on a machine that is never in a cluster.
	Placer Placer
	// Remote starts releases on the other machines of a cluster; nil on
	// a machine that is never in one.
	Remote Remote
	// Exec runs commands in running instances (enter).
	Exec Execer
	// Shells relays run and enter to the machine an app runs on; nil on
	// a machine that is never in a cluster.
	Shells RemoteShells
	// Volumes keeps destroyed apps' volumes until they are purged.
	Volumes VolumeKeeper

	// Occupants run something under an app's name and let go of it
	// before a rename or a destroy (the node, cron).
	Occupants []Occupant
	// Files are the parts' per-app files on disk, moved by a rename and
	// removed by a destroy.
	Files []Files
	// Renames journals renames, so a crash leaves none half done; nil:
	// renames are not journalled.
	Renames RenameJournal
}

// Service holds the use-cases that commands and the dashboard call:
// create, deploy, config, scale, rollback, rename, destroy and the rest.
// They validate what they are asked, record it as changes (Store.Apply),
// and leave what runs to the node, which they call only where the user
// waits for the outcome. It is safe for concurrent use; operations on one
// app are serialized by the node's app lock.
type Service struct {
	core
	builder   Builder
	logs      LogSource
	files     []Files
	occupants []Occupant
	renames   RenameJournal
	// renameStep, if set, is called after each step of a rename; an
	// error stops the rename there, as a crash would (tests).
	renameStep func(step int) error
	audit      Audit
	cronp      CronParser
	placer     Placer
	remote     Remote
	shells     RemoteShells
	volumes    VolumeKeeper
}

// New returns a Service over deps.
func New(set Settings, d Deps) *Service {
	return &Service{
		core:    newCore(set, d),
		builder: d.Builder, logs: d.Logs, audit: d.Audit, files: d.Files, occupants: d.Occupants, renames: d.Renames,
		cronp: CronParser{Seconds: set.CronSeconds}, placer: d.Placer, remote: d.Remote, shells: d.Shells, volumes: d.Volumes,
	}
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
	// The store picked its user ID.
	return s.store.App(ctx, name)
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

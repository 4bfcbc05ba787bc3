// Package cron runs apps' cron entries on schedule, and one-off runs of
// them, each in a fresh one-off container of the app's current release,
// whether the app's web process runs, sleeps or is stopped. The schedule
// follows the desired state by watching applied changes: a new release
// replaces its app's entries, a destroy or a rename ends them under the
// old name. It also holds the cron use-cases the commands and the
// dashboard call (cron:list, cron:run, suspend, resume, history).
package cron

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"pier/app"
)

// Store is the desired state as cron reads it.
type Store interface {
	app.Watcher
	Apply(ctx context.Context, c app.Change) error
	App(ctx context.Context, name string) (app.App, error)
	Apps(ctx context.Context) ([]app.App, error)
	Release(ctx context.Context, app string, version int) (app.Release, error)
	// CronSuspended lists the IDs of an app's suspended entries ("*" for all).
	CronSuspended(ctx context.Context, app string) ([]string, error)
}

// Deps are what cron needs. All are required.
type Deps struct {
	Store Store
	// Runs keeps the history of runs.
	Runs app.CronRuns
	// OneOffs runs the jobs' containers.
	OneOffs app.OneOffs
	// Lock serializes changes to one app with the other use-cases'.
	Lock func(app string) (unlock func())
	Log  *slog.Logger
	// MaxRuns bounds the runs in flight on this machine at once, every
	// app's together (0: DefaultMaxRuns). A run due past it is skipped
	// and recorded as skipped with the reason, not queued (see begin).
	MaxRuns int
	// Seconds lets schedules take a leading seconds field. For tests only.
	Seconds bool
	// Leads reports whether this machine leads its cluster, or is in
	// none (nil: never in one). Every machine keeps the schedule; entries
	// fire on the leader only, once per instant in the whole cluster,
	// and go on firing on the next leader if it stops.
	Leads func() bool
}

// Cron schedules and runs apps' cron entries. Entries are replaced per app,
// as a whole, when a new release becomes current; runs in flight are
// tracked per entry for the concurrency policies. It is safe for
// concurrent use; Serve starts its timers.
type Cron struct {
	store   Store
	runs    app.CronRuns
	oneOffs app.OneOffs
	lock    func(string) func()
	log     *slog.Logger
	parser  app.CronParser
	leads   func() bool
	maxRuns int

	mu       sync.Mutex
	ctx      context.Context // Run's; nil until it starts
	apps     map[string]*appCron
	active   map[string]map[*activeRun]bool // by cronKey
	inFlight int                            // runs in active
	running  sync.WaitGroup                 // runs in flight, so Run can wait for their records
	closed   bool                           // Run returns: no new runs
}

// DefaultMaxRuns is Deps.MaxRuns's default: what a small machine runs
// beside its apps.
const DefaultMaxRuns = 4

// New returns a Cron over d; nothing is scheduled until Run.
func New(d Deps) *Cron {
	if d.Leads == nil {
		d.Leads = func() bool { return true }
	}
	if d.MaxRuns <= 0 {
		d.MaxRuns = DefaultMaxRuns
	}
	return &Cron{
		store: d.Store, runs: d.Runs, oneOffs: d.OneOffs, lock: d.Lock, log: d.Log,
		parser: app.CronParser{Seconds: d.Seconds}, leads: d.Leads, maxRuns: d.MaxRuns,
		apps: map[string]*appCron{}, active: map[string]map[*activeRun]bool{},
	}
}

// Vacate ends app name's schedule and kills its runs in flight, before a
// rename or a destroy takes the name away. The caller holds the app's lock.
func (c *Cron) Vacate(ctx context.Context, name string) { c.stopCron(name) }

// Restore schedules app name's entries again, after a rename. The caller
// holds the app's lock.
func (c *Cron) Restore(ctx context.Context, name string) error {
	a, err := c.store.App(ctx, name)
	if err != nil || a.Release == 0 {
		return err
	}
	rel, err := c.store.Release(ctx, name, a.Release)
	if err != nil {
		return err
	}
	c.setCron(name, rel.Cron)
	return nil
}

// load reads an app, saying plainly when it does not exist.
func (c *Cron) load(ctx context.Context, name string) (app.App, error) {
	if err := app.ValidName(name); err != nil {
		return app.App{}, err
	}
	a, err := c.store.App(ctx, name)
	if errors.Is(err, app.ErrNotFound) {
		return app.App{}, fmt.Errorf("app %q does not exist: %w", name, app.ErrNotFound)
	}
	return a, err
}

// locked validates name, takes the app's lock and loads the app. On
// success the caller must call unlock.
func (c *Cron) locked(ctx context.Context, name string) (a app.App, unlock func(), err error) {
	if err := app.ValidName(name); err != nil {
		return app.App{}, nil, err
	}
	unlock = c.lock(name)
	if a, err = c.load(ctx, name); err != nil {
		unlock()
		return app.App{}, nil, err
	}
	return a, unlock, nil
}

// follow keeps the schedule in step with the applied changes until ctx
// ends: a new release's entries replace its app's; a destroyed or renamed
// app's end; a Resync loads every app's again.
func (c *Cron) follow(ctx context.Context, changes <-chan app.Applied) {
	for ch := range changes {
		switch ch := ch.Change.(type) {
		case app.PutRelease:
			c.setCron(ch.Release.App, ch.Release.Cron)
		case app.DestroyApp:
			c.stopCron(ch.Name)
		case app.RenameApp:
			c.stopCron(ch.From)
			c.loadApp(ctx, ch.To)
		case app.Resync:
			c.loadAll(ctx, false)
		}
	}
}

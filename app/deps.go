package app

import (
	"context"
	"io"
)

// Store keeps desired state. Every change goes through Apply (see state.go);
// the rest are reads. Implementations map their errors to ErrNotFound and
// ErrExists.
type Store interface {
	Apply(ctx context.Context, c Change) error
	App(ctx context.Context, name string) (App, error)
	Apps(ctx context.Context) ([]App, error)
	Release(ctx context.Context, app string, version int) (Release, error)
	// Releases lists an app's releases, newest first.
	Releases(ctx context.Context, app string) ([]Release, error)
	Keys(ctx context.Context) ([]Key, error)
	KeyByFingerprint(ctx context.Context, fingerprint string) (Key, error)
	// CronSuspended lists the IDs of an app's suspended cron entries ("*"
	// for all; see SetCronSuspended); nil if none.
	CronSuspended(ctx context.Context, app string) ([]string, error)
	// Setting returns an installation-wide setting (SetSetting);
	// ErrNotFound if it was never set.
	Setting(ctx context.Context, key string) (string, error)
}

// Watcher streams applied changes: what reacts to desired state (this
// machine's actuator, cron) watches instead of being called by whoever
// made the change.
type Watcher interface {
	// Watch returns the changes applied after the call, in index order,
	// until ctx ends; then the channel is closed. A watcher that falls
	// behind gets one Resync in place of what it missed.
	Watch(ctx context.Context) <-chan Applied
}

// BuildRequest asks for an app's source to be built into an image.
type BuildRequest struct {
	App string
	Dir string    // the checked-out source; the builder only reads it
	Out io.Writer // build progress for the pusher
	// Web says the Procfile names a web process: the build is then never
	// a static site.
	Web bool
}

// Build is a built app layer and what the builder learned about the source.
type Build struct {
	Image string
	Stack string
	// Processes are the stack's default processes (e.g. web from package.json's
	// start script); the Procfile overrides them.
	Processes map[string]string
	// Static, for a build with no web process that holds an index.html, is
	// the directory of the image the router serves (/app/public, /app/dist
	// or /app); empty otherwise.
	Static string
}

// Builder turns source into an app image.
type Builder interface {
	Build(ctx context.Context, req BuildRequest) (Build, error)
}

// Runtime runs instances. Start returns once the process is started and its
// network is up (Addr set); Stop is idempotent and succeeds for an unknown ID.
type Runtime interface {
	Start(ctx context.Context, in Instance) (Instance, error)
	Stop(ctx context.Context, id string) error
	// Instances reports every instance the runtime knows, running or not;
	// AppInstances those of one app.
	Instances(ctx context.Context) ([]Instance, error)
	AppInstances(ctx context.Context, app string) ([]Instance, error)
	// Pause freezes an instance (memory kept, no CPU); Resume thaws it.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Running reports whether the instance's process is alive.
	Running(ctx context.Context, id string) (bool, error)
	// Tail returns up to n last lines of an instance's output.
	Tail(app, id string, n int) []string
	// RemoveImage deletes an app image nothing runs any more.
	RemoveImage(ctx context.Context, image string) error
	// RunOnce runs a command to completion in a fresh container and returns
	// its exit code; cancelling ctx kills it.
	RunOnce(ctx context.Context, o OneOff) (int, error)
}

// Sites gives static sites their files without a container: an app image's
// files, mounted read-only on the host, for the router to serve.
type Sites interface {
	// MountSite returns a host directory holding dir (an absolute path in
	// the image, e.g. /app/dist) of app's image, read-only, mounting the
	// image first if need be. Idempotent; mounts outlive the daemon.
	MountSite(ctx context.Context, app, image, dir string) (string, error)
	// UnmountSite releases an image's mount; an image without one is not
	// an error.
	UnmountSite(ctx context.Context, image string) error
	// Sites lists what MountSite mounted, every app's.
	Sites(ctx context.Context) ([]Site, error)
}

// Site is an image mounted for a static site.
type Site struct {
	App, Image string
	Dir        string // the host directory MountSite returned
}

// OneOff is a command run to completion in a fresh container of an app's
// image: the release phase, deploy scripts, `run`.
type OneOff struct {
	App     string
	Image   string
	Command string // run with /bin/sh -c
	Env     []string
	Volumes []Volume
	Limits  Limits
	Out     io.Writer // stdout and stderr, streamed while it runs
}

// Routes is the router's table: which addresses serve an app's web traffic.
// Set replaces the app's backends atomically; SetStatic instead routes the
// app to the files of a directory (a static site), atomically too, and
// fails if dir cannot be opened (the route is then left as it was). Each
// replaces what the other set. Drain returns once no request to addr (a
// backend address, or a directory SetStatic named) is in flight (or ctx
// ends).
type Routes interface {
	Set(app string, addrs []string)
	SetStatic(app, dir string) error
	Delete(app string)
	Drain(ctx context.Context, addr string) error
	// SetAsleep makes the app's requests wait for a wake (true) or go to its
	// backends (false). Set keeps it as it is.
	SetAsleep(app string, asleep bool)
	// SetDomains replaces the custom domains routed to app (nil: none).
	SetDomains(app string, domains []string)
	// SetAccess replaces the access rules of app's requests.
	SetAccess(app string, rules AccessRules)
}

// Files is one part's files kept on disk under an app's name, outside the
// store: logs, the build cache, the git repository, volumes. Both methods
// are called under the app's lock with none of its processes running, and
// succeed when there is nothing to move or remove.
type Files interface {
	// RenameFiles moves app from's files to the name to; it fails, moving
	// nothing, if to already has files.
	RenameFiles(from, to string) error
	// RemoveFiles deletes app name's files, except data users keep on
	// purpose (volumes).
	RemoveFiles(name string) error
}

// Health checks web instances.
type Health interface {
	// Ready returns nil once addr accepts connections and "/" answers with a
	// status below 500, or the last failure when ctx ends.
	Ready(ctx context.Context, app, addr string) error
	// Listening returns nil once addr accepts TCP connections.
	Listening(ctx context.Context, addr string) error
	// Probe makes one attempt of an app.json check against addr (its port
	// already chosen): a GET of c.Path within c.Timeout seconds, status below
	// 400, and c.Content in the body if set.
	Probe(ctx context.Context, app, addr string, c HealthCheck) error
}

// LogQuery selects an app's log lines.
type LogQuery struct {
	Process string // only this process type ("web"); "" for all
	Lines   int    // the last Lines lines first; 0 means 100
	Follow  bool   // then keep streaming new lines until ctx ends
}

// LogSource reads apps' process output: timestamped lines naming the
// instance they came from.
type LogSource interface {
	Logs(ctx context.Context, app string, q LogQuery, w io.Writer) error
}

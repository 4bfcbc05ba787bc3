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
	// AppCert is the certificate an app's owner brought, if any.
	AppCert(ctx context.Context, app string) (AppCert, bool, error)
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
	UID int       // the app's user ID (App.UID): the build runs as it, and its files are its
	Dir string    // the checked-out source; the builder only reads it
	Out io.Writer // build progress for the pusher
	// Web says the Procfile names a web process: the build is then never
	// a static site.
	Web bool
	// Predeploy, if set, runs after the build with the release's config
	// (Env) and the app's volumes; what it writes is kept in the image,
	// as Dokku keeps what scripts.dokku.predeploy writes. It failing
	// fails the build.
	Predeploy string
	Env       []string
	Volumes   []Volume
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
	// Stdin, if set, is the process's standard input (`run`); its end
	// closes the process's.
	Stdin io.Reader `json:"-"`
	// TTY, if set, gives the process a terminal (ssh -t): its output then
	// comes through it to Out.
	TTY *Terminal `json:"-"`
}

// Terminal is the terminal of an interactive one-off.
type Terminal struct {
	Term   string // the client's TERM
	Size   WindowSize
	Resize <-chan WindowSize `json:"-"` // the client's window changes while it runs
}

// WindowSize is a terminal's size in characters.
type WindowSize struct{ Width, Height int }

// Occupant is a part that runs something under an app's name — the node
// its processes, cron its schedule — and must let go of the name when a
// rename or a destroy takes it away, as Dokku's plugins do in their
// pre-rename and post-delete triggers: before a rename's files move, and
// once a destroy is recorded. Both methods are called under the app's lock.
type Occupant interface {
	// Vacate stops everything the part runs for the app, at once.
	Vacate(ctx context.Context, name string)
	// Restore starts it again under name: after a rename under the new
	// name, or under the old one when the rename failed.
	Restore(ctx context.Context, name string) error
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

// RenameJournal keeps this machine's renames under way, so that one a
// crash interrupted is finished on start (Service.FinishRenames). It is
// written before anything moves and cleared once the app is whole.
type RenameJournal interface {
	// BeginRename records a rename at step 0; ErrExists if a rename of
	// either name is under way.
	BeginRename(ctx context.Context, from, to string) error
	// SetRenameStep records the last step done.
	SetRenameStep(ctx context.Context, from string, step int) error
	// EndRename forgets a rename (done, or undone).
	EndRename(ctx context.Context, from string) error
	// Renames lists the renames under way.
	Renames(ctx context.Context) ([]RenameIntent, error)
}

// RenameIntent is a rename under way, as its journal holds it: Step is
// the last step done (see Service.Rename).
type RenameIntent struct {
	From, To string
	Step     int
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

// Node is this machine's actuator (package node) as the use-cases need it:
// the app lock they hold around a change and its rollout, and the
// rollouts a user waits for. Everything else the node does by watching the
// changes the use-cases record.
type Node interface {
	// Lock serializes work on one app and returns the unlock.
	Lock(app string) (unlock func())
	// Sync returns once the node reacted to the changes applied so far.
	Sync(ctx context.Context) error
	// Activate makes rel a's running release with zero downtime, calling
	// act.Record once its processes are healthy; the caller holds the lock.
	Activate(ctx context.Context, a App, rel Release, act Activation) error
	// Converge makes the app's instances match its formation now,
	// returning what failed; the caller holds the lock.
	Converge(ctx context.Context, name string) error
	// Retire stops an app after its requests in flight (ps:stop). The
	// caller holds the lock.
	Retire(ctx context.Context, name string)
	// RemoveImage deletes an app image no kept release uses.
	RemoveImage(image string)
	Sleeper
	Observer
	OneOffs
}

// Sleeper puts apps to sleep and wakes them.
type Sleeper interface {
	// Wake brings a sleeping app back and returns once it answers.
	Wake(ctx context.Context, name string) error
	// Sleep freezes (Frozen) or stops (Stopped) an app now; the caller
	// holds the lock.
	Sleep(ctx context.Context, a App, to SleepState) error
	// MarkAwake counts the app's idleness from now.
	MarkAwake(name string)
}

// Observer reports what runs of an app.
type Observer interface {
	Instances(ctx context.Context, name string) []Instance
	// Crash is the recent crash record of a process type, if any.
	Crash(app, proc string) (Crash, bool)
	// Memory is the memory the app's instances use now, if known.
	Memory(ctx context.Context, name string) (bytes int64, ok bool)
}

// OneOffs run commands to completion in fresh containers: the release
// phase, `run`, cron jobs.
type OneOffs interface {
	RunOnce(ctx context.Context, o OneOff) (int, error)
}

// Usage reports what an instance uses of the machine; the runtime
// implements it.
type Usage interface {
	// InstanceMemory returns the memory (bytes) an instance's processes
	// use now; ok is false if it is not known (e.g. not running).
	InstanceMemory(id string) (bytes int64, ok bool)
	// InstanceCPU returns the CPU time an instance's processes used so
	// far; ok is false if it is not known.
	InstanceCPU(id string) (seconds float64, ok bool)
}

// Placer chooses the machines of a cluster that run an app with the given
// formation: as many as its largest process count, among those alive with
// room for it, the ones it runs on first. A machine in no cluster places
// nothing (nil).
type Placer interface {
	Place(ctx context.Context, a App, rel Release, formation map[string]int) ([]string, error)
}

// Remote makes a release the running one on another machine of the
// cluster, as a deploy there would: what a push, a rollback or a config
// change on one machine does for an app that runs on another.
type Remote interface {
	ActivateOn(ctx context.Context, node string, rel Release, out io.Writer) error
}

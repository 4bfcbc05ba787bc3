package node

import (
	"context"
	"time"

	"pier/app"
)

// Store is the desired state as the actuator reads it, and the observed
// state it records (how deeply an app sleeps).
type Store interface {
	app.Watcher
	Apply(ctx context.Context, c app.Change) error
	App(ctx context.Context, name string) (app.App, error)
	Apps(ctx context.Context) ([]app.App, error)
	Release(ctx context.Context, app string, version int) (app.Release, error)
	// AppCert is the certificate an app's owner brought, if any.
	AppCert(ctx context.Context, app string) (app.AppCert, bool, error)
	// AppliedIndex is the index of the last change applied.
	AppliedIndex(ctx context.Context) (uint64, error)
}

// Runtime runs instances. Start returns once the process is started and its
// network is up (Addr set); Stop is idempotent and succeeds for an unknown ID.
type Runtime interface {
	Start(ctx context.Context, in app.Instance) (app.Instance, error)
	Stop(ctx context.Context, id string) error
	// Instances reports every instance the runtime knows, running or not;
	// AppInstances those of one app.
	Instances(ctx context.Context) ([]app.Instance, error)
	AppInstances(ctx context.Context, app string) ([]app.Instance, error)
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
	RunOnce(ctx context.Context, o app.OneOff) (int, error)
}

// Peers tells which other machines of a cluster serve an app: Serving
// returns those of nodes (nil: of every other machine) that route its
// requests to instances of their own.
type Peers interface {
	Serving(ctx context.Context, app string, nodes []string) []string
}

// Images brings app images to this machine from the other machines of a
// cluster. Fetch returns at once if image is here already; otherwise it
// copies what this machine lacks of it from one of the machines named in
// from.
type Images interface {
	Fetch(ctx context.Context, image string, from []string) error
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
	Sites(ctx context.Context) ([]app.Site, error)
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
	SetAccess(app string, rules app.AccessRules)
	// SetCertificate serves c for app's hosts it covers, instead of an
	// obtained certificate (an empty c: none).
	SetCertificate(app string, c app.AppCert) error
	// SetRemote routes the app's requests to the other machines of the
	// cluster named nodes, which run it.
	SetRemote(app string, nodes []string)
	// Routed lists the apps routed.
	Routed() []string
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
	Probe(ctx context.Context, app, addr string, c app.HealthCheck) error
}

// Activity is what the router knows of an app's traffic: requests in flight
// (held ones, open WebSockets and streams included) and when the last one
// started or ended (zero if none since the router started).
type Activity interface {
	Activity(app string) (inflight int64, last time.Time)
}

// MemoryProbe reports the machine's available and total memory in bytes.
type MemoryProbe func() (available, total int64)

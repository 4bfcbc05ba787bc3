// Package app is pier's domain: apps, releases, keys, the changes to
// desired state (state.go), Procfile and app.json, and the use-cases that
// commands and the dashboard call — Service, Routing, Auth — which validate
// what they are asked and record it as changes.
//
// What runs on a machine is not its business: this machine's actuator
// (package node) watches the recorded changes and converges, and the
// use-cases call it, through the Node interface, only where a user waits
// for the outcome. It declares the small interfaces it needs from the other
// parts (Store, Builder, Node, Occupant, Files) and imports none of them;
// main.go wires the concrete types in. It holds no node-local state.
package app

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Sentinel errors the store maps its driver errors to, and callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// notFound is an ErrNotFound with a message for people.
type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// NotFoundf is an ErrNotFound with a message for people.
func NotFoundf(format string, a ...any) error { return notFound(fmt.Sprintf(format, a...)) }

// exists is an ErrExists with a message for people.
type exists string

func (e exists) Error() string        { return string(e) }
func (e exists) Is(target error) bool { return target == ErrExists }

// FirstUID and LastUID bound the user IDs apps run as, one per app: above
// the system's and the people's (1000 up) and below the ranges Debian
// gives users' own containers (/etc/subuid, from 100000).
const (
	FirstUID = 70001
	LastUID  = 99999
)

// App is one deployable application.
type App struct {
	Name      string
	CreatedAt time.Time
	// UID is the user ID the app's builds and processes run as and its
	// files belong to, its own among the apps (FirstUID to LastUID): the
	// store picks it when the app is created, and a rename keeps it. 0 for
	// an app not stored yet.
	UID int
	// Release is the version of the release that should be running; 0 means
	// the app was created but never deployed.
	Release int
	// Config is the app's config vars as last set; the next release gets them.
	Config map[string]string
	// Formation is how many instances of each process type should run.
	Formation map[string]int
	// Stopped means ps:stop: nothing of the app should run.
	Stopped bool
	// Volumes are the app's persistent storage mounts.
	Volumes []Volume
	// Sleep overrides app.json's and the daemon's sleep policy; nil if unset.
	Sleep *SleepPolicy
	// Asleep is the state pier put the idle app in: Awake, Frozen or Stopped.
	Asleep SleepState
	// Limits override app.json's pier.memory and pier.cpu (resource:limit).
	Limits Limits
	// Domains are the app's custom domains, sorted (domains:add); it
	// answers at <app>.<domain> as well.
	Domains []string
	// Access is the app's access rules as the http-auth commands set them.
	Access Access
	// Static says the current release is a static site: the router serves
	// its files and no web process runs. The store derives it from the
	// release; it is not set by a Change.
	Static bool
	// Placement names the machines of a cluster that run the app: the
	// one that built and started its current release. Empty on a single
	// machine, and for an app whose release is not placed: it runs on
	// every machine that has it, as on a single one.
	Placement []string
	// Restarts counts the app's restarts (ps:restart): an instance
	// started before the last one is replaced, on every machine that runs
	// the app.
	Restarts int
	// Checks says how a deploy checks new processes, by type ("*": every
	// type): CheckSkip, CheckDisabled; absent, they are checked.
	Checks map[string]string
}

// How a deploy checks a process type's new instances (checks:*).
const (
	// CheckSkip starts them next to the old ones and routes to them at
	// once, without waiting for their checks (checks:skip).
	CheckSkip = "skip"
	// CheckDisabled stops the old ones first, then starts them without
	// checks: a moment of downtime, for apps that cannot run twice
	// (checks:disable).
	CheckDisabled = "disabled"
)

// CheckMode is how a's deploys check proc's instances: "", CheckSkip or
// CheckDisabled.
func (a App) CheckMode(proc string) string {
	if m, ok := a.Checks[proc]; ok {
		return m
	}
	return a.Checks["*"]
}

// PlacedElsewhere returns the machines that run a, when self (this
// machine's name in a cluster, "" on a single machine) is not one of them;
// nil when a runs here.
func PlacedElsewhere(a App, self string) []string {
	if self == "" || len(a.Placement) == 0 || slices.Contains(a.Placement, self) {
		return nil
	}
	return a.Placement
}

// Share is how many of a formation's n instances of a process run on the
// machine self when the app is placed on several: instance i runs on
// placement[i % len(placement)]. On a single machine (self "") or for an
// unplaced app, all n.
func Share(n int, placement []string, self string) int {
	i := slices.Index(placement, self)
	if self == "" || len(placement) == 0 || i < 0 {
		if self != "" && len(placement) > 0 {
			return 0
		}
		return n
	}
	s := n / len(placement)
	if i < n%len(placement) {
		s++
	}
	return s
}

// ShareOf is formation f as it runs on the machine self (see Share).
func ShareOf(f map[string]int, placement []string, self string) map[string]int {
	out := make(map[string]int, len(f))
	for p, n := range f {
		out[p] = Share(n, placement, self)
	}
	return out
}

// SleepPolicy says when an idle app sleeps. Zero durations take the
// daemon's defaults.
type SleepPolicy struct {
	Never     bool          `json:"never,omitempty"`
	After     time.Duration `json:"after,omitempty"`      // frozen after this long without a request
	StopAfter time.Duration `json:"stop_after,omitempty"` // stopped after this long without a request
}

// SleepState is how deeply an app sleeps.
type SleepState string

const (
	Awake   SleepState = ""
	Frozen  SleepState = "frozen"  // processes paused: memory kept, no CPU
	Stopped SleepState = "stopped" // processes removed: memory freed
)

// Volume is a named directory that outlives releases, mounted into every
// process of the app at Path.
type Volume struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// Release is one immutable, numbered deploy of an app: its built image and
// the processes it runs.
type Release struct {
	App     string
	Version int
	Image   string // runtime image reference of the app layer
	Stack   string // node, python, procfile, static
	Commit  string // git revision the release was built from
	// Static, for a static site, is the directory of Image the router
	// serves (/app/public, /app/dist or /app); empty for a release whose
	// web process, if any, runs in containers.
	Static string
	// Processes maps a process type (web, worker, ...) to its command.
	Processes map[string]string
	// Config is the environment the release's processes get.
	Config   map[string]string
	Manifest Manifest
	// Cron is the release's scheduled jobs, from the Procfile and app.json.
	Cron []CronEntry
	// Description says what made the release: "deploy 1a2b3c4d",
	// "config set A, B", "rollback to v3".
	Description string
	CreatedBy   string
	CreatedAt   time.Time
}

// Key is an SSH public key allowed to talk to pier.
type Key struct {
	Name        string
	Fingerprint string // SHA256:... as printed by ssh-keygen -l
	PublicKey   string // authorized_keys form: "ssh-ed25519 AAAA..."
	// App, if set, is the only app this key may push to and read; an empty
	// App is an admin key.
	App       string
	CreatedAt time.Time
}

// Event is one entry of the audit log: a change someone made.
type Event struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	App    string    `json:"app"`    // "" for installation-wide changes
	Action string    `json:"action"` // the command, e.g. "config:set"
	Detail string    `json:"detail"` // its arguments, secrets masked
}

// Instance is one running (or wanted) process of a release, in its own
// container.
type Instance struct {
	ID      string
	App     string
	Release int
	Process string // process type from the Procfile
	Image   string
	Command string   // run with /bin/sh -c
	Env     []string // KEY=value
	Port    int      // the port the process listens on (PORT), web only
	Volumes []Volume
	Limits  Limits
	// Addr is host:port where the instance answers, set by the runtime once
	// its network is up.
	Addr string
	// Running reports whether the instance's process is alive (observed);
	// a paused (frozen) instance is alive.
	Running bool
	Paused  bool
	// Restart is the app's restart count (App.Restarts) when the
	// instance started.
	Restart int
}

// Limits bound a process's resources; zero fields take the runtime's defaults.
type Limits struct {
	MemoryMiB int     `json:"memory_mib,omitempty"`
	CPU       float64 `json:"cpu,omitempty"` // cores
}

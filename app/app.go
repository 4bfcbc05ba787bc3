// Package app is pier's domain: apps, releases, keys, the deploy pipeline and
// reconciliation of what runs against what should run.
//
// It declares the small interfaces it needs from the other parts (Store,
// Builder, Runtime, Routes, Health) and imports none of them; main.go wires the
// concrete types in.
package app

import (
	"errors"
	"time"
)

// Sentinel errors the store maps its driver errors to, and callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// App is one deployable application.
type App struct {
	Name      string
	CreatedAt time.Time
	// Release is the version of the release that should be running; 0 means
	// the app was created but never deployed.
	Release int
}

// Release is one immutable, numbered deploy of an app: its built image and
// the processes it runs.
type Release struct {
	App     string
	Version int
	Image   string // runtime image reference of the app layer
	Stack   string // node, python, procfile
	Commit  string // git revision the release was built from
	// Processes maps a process type (web, worker, ...) to its command.
	Processes map[string]string
	CreatedBy string
	CreatedAt time.Time
}

// Key is an SSH public key allowed to talk to pier.
type Key struct {
	Name        string
	Fingerprint string // SHA256:... as printed by ssh-keygen -l
	PublicKey   string // authorized_keys form: "ssh-ed25519 AAAA..."
	CreatedAt   time.Time
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
	// Addr is host:port where the instance answers, set by the runtime once
	// its network is up.
	Addr string
	// Running reports whether the instance's process is alive (observed).
	Running bool
}

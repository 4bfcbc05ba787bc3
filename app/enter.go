package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Execer runs a command in a running instance (the runtime): `enter`.
type Execer interface {
	Exec(ctx context.Context, id string, o OneOff) (int, error)
}

// EnterRequest is one `enter`: Command (a login shell if empty) in a
// running Process instance of App (web, or the one type that runs, if
// empty), its output to Out, with Stdin and TTY as in OneOff.
type EnterRequest struct {
	App, Process, Command string
	Out                   io.Writer
	Stdin                 io.Reader
	TTY                   *Terminal
	// Here enters an instance on this machine: another machine relayed it.
	Here bool
}

// loginShell is what enter runs without a command.
const loginShell = "command -v bash >/dev/null && exec bash || exec sh"

// Shells holds `enter`: a command in a process that runs already, as
// Dokku's enter does, where run starts a fresh container.
type Shells struct {
	core
	exec   Execer
	remote RemoteShells
}

// NewShells returns the enter use-case; d.Exec runs the commands, d.Shells
// relays them to the machine the app runs on.
func NewShells(set Settings, d Deps) *Shells {
	return &Shells{core: newCore(set, d), exec: d.Exec, remote: d.Shells}
}

// Enter runs r in one of the app's running instances on this machine and
// returns the command's exit code.
func (s *Shells) Enter(ctx context.Context, r EnterRequest) (int, error) {
	if err := ValidName(r.App); err != nil {
		return -1, err
	}
	if s.exec == nil {
		return -1, fmt.Errorf("this machine runs no app processes")
	}
	a, err := s.load(ctx, r.App)
	if err != nil {
		return -1, err
	}
	proc := r.Process
	if proc == "" {
		proc = defaultEnterType(a)
	}
	if proc == "" {
		return -1, fmt.Errorf("%s runs no process: ps:report %s says why (ps:start %s, or ps:scale %s web=1)", a.Name, a.Name, a.Name, a.Name)
	}
	if !validProcessType(proc) {
		return -1, fmt.Errorf("invalid process type %q: want a Procfile name such as web or worker", proc)
	}
	var target Instance
	for _, in := range s.node.Instances(ctx, a.Name) {
		if in.Process == proc && in.Running && (target.ID == "" || in.ID < target.ID) {
			target = in
		}
	}
	if target.ID == "" {
		// An instance on another machine of the cluster.
		if others := slices.DeleteFunc(slices.Clone(a.Placement), func(n string) bool { return n == s.set.Self() }); len(others) > 0 && s.set.Self() != "" && !r.Here && s.remote != nil {
			r.Process = proc
			return s.remote.EnterOn(ctx, others[0], r)
		}
		return -1, s.noInstance(a, proc)
	}
	if target.Paused {
		return -1, fmt.Errorf("%s is asleep: a request wakes it (or ps:restart %s), then enter again", a.Name, a.Name)
	}
	cmd := r.Command
	if cmd == "" {
		cmd = loginShell
	}
	return s.exec.Exec(ctx, target.ID, OneOff{App: a.Name, Command: cmd, Out: r.Out, Stdin: r.Stdin, TTY: r.TTY})
}

// defaultEnterType is web if the app runs it, else the one type it runs.
func defaultEnterType(a App) string {
	if a.Formation["web"] > 0 {
		return "web"
	}
	var running []string
	for _, p := range slices.Sorted(maps.Keys(a.Formation)) {
		if a.Formation[p] > 0 {
			running = append(running, p)
		}
	}
	if len(running) > 0 {
		return running[0]
	}
	return ""
}

// noInstance says why no proc instance of a runs here.
func (s *Shells) noInstance(a App, proc string) error {
	self := s.set.Self()
	var elsewhere []string
	for _, n := range a.Placement {
		if n != self {
			elsewhere = append(elsewhere, n)
		}
	}
	switch {
	case a.Release == 0:
		return fmt.Errorf("%s has not been deployed yet: push it first", a.Name)
	case a.Stopped:
		return fmt.Errorf("%s is stopped: ps:start %s first", a.Name, a.Name)
	case a.Formation[proc] == 0:
		return fmt.Errorf("%s runs no %s process: ps:scale %s %s=1 first, or run %s -- COMMAND for a fresh container", a.Name, proc, a.Name, proc, a.Name)
	case len(elsewhere) > 0 && !slices.Contains(a.Placement, self):
		return fmt.Errorf("%s runs on %s, not here: enter it there (ssh -t pier@%s enter %s %s)", a.Name, strings.Join(elsewhere, ", "), elsewhere[0], a.Name, proc)
	}
	return fmt.Errorf("no %s process of %s runs here now: ps:report %s says why", proc, a.Name, a.Name)
}

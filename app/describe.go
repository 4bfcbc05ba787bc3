package app

// How apps are told to people: the words for an app's state, masked config
// values, counts of running instances and the certificates of an app's
// hosts. The SSH commands and the dashboard both say these things; they
// take the words from here so that the two never disagree.

import (
	"context"
	"strings"
)

// AppState is what an app is doing, as pier reports it: the one reading of
// App's Release, Stopped, Static and Asleep fields.
type AppState int

// The states, from the first that applies down.
const (
	StateNotDeployed AppState = iota // no release yet
	StateStopped                     // stopped with ps:stop; only ps:start starts it
	StateStatic                      // a static site: the router serves it, nothing runs, it never sleeps
	StateFrozen                      // asleep, its processes paused (Frozen)
	StateAsleep                      // asleep, its processes removed (Stopped); a request starts them
	StateRunning
	StateCrashing // running, but a process type keeps crashing
)

// State is a's state.
func (a App) State() AppState {
	switch {
	case a.Release == 0:
		return StateNotDeployed
	case a.Stopped:
		return StateStopped
	case a.Static:
		return StateStatic
	case a.Asleep == Frozen:
		return StateFrozen
	case a.Asleep == Stopped:
		return StateAsleep
	}
	return StateRunning
}

// stateWords are each state's Word, Label and Phrase.
var stateWords = [...]struct{ word, label, phrase string }{
	StateNotDeployed: {"not-deployed", "not deployed", "not deployed"},
	StateStopped:     {"stopped", "stopped", "stopped (ps:stop)"},
	StateStatic:      {"static", "static", "static site (never sleeps)"},
	StateFrozen:      {"frozen", "frozen", "frozen (asleep)"},
	StateAsleep:      {"stopped", "asleep", "stopped (asleep)"},
	StateRunning:     {"running", "running", "running"},
	StateCrashing:    {"crashing", "crashing", "crashing (ps:report says why)"},
}

// StateWith is a's state, crashing if a runs and one of its process
// types keeps crashing (crashing, from the node's crash records).
func (a App) StateWith(crashing bool) AppState {
	if st := a.State(); st != StateRunning || !crashing {
		return st
	}
	return StateCrashing
}

// CrashLoop is how many recent crashes of a process type make its app
// crashing: one killed process, restarted at once, is not a loop.
const CrashLoop = 2

// Crashing reports whether one of a's running process types keeps
// crashing on this machine.
func Crashing(o Observer, a App) bool {
	for proc, n := range a.Formation {
		if n > 0 {
			if c, ok := o.Crash(a.Name, proc); ok && c.Count >= CrashLoop {
				return true
			}
		}
	}
	return false
}

// Word is s in one word for scripts (apps:list, the "state" of --format
// json): running, crashing, static, frozen, stopped or not-deployed. An app asleep
// with its processes removed is "stopped", as one stopped with ps:stop.
func (s AppState) Word() string { return stateWords[s].word }

// Label is s as the dashboard shows it, a word or two that is also the
// state's CSS class: running, crashing, static, frozen, asleep, stopped
// or not deployed.
func (s AppState) Label() string { return stateWords[s].label }

// Phrase is s as reports to people say it (ps:report, apps:report,
// sleep:report), with why where it helps: "stopped (ps:stop)", "frozen
// (asleep)".
func (s AppState) Phrase() string { return stateWords[s].phrase }

// MaskValue hides a config value whole: no character of a secret, not
// even its length, shows on a screen or in a screenshot.
func MaskValue(string) string { return "********" }

// Running counts p's instances that are running.
func (p ProcessReport) Running() int {
	n := 0
	for _, in := range p.Instances {
		if in.Running {
			n++
		}
	}
	return n
}

// Looping says p has crashed often enough lately (CrashLoop times) to
// count as crash-looping; a single crash restarted at once does not.
func (p ProcessReport) Looping() bool { return p.Crashes >= CrashLoop }

// State is r's app's state, crashing if one of its running process
// types has crashed lately.
func (r Report) State() AppState {
	crashing := false
	for _, p := range r.Processes {
		crashing = crashing || p.Desired > 0 && p.Looping()
	}
	return r.App.StateWith(crashing)
}

// Running counts the running instances of all of r's processes.
func (r Report) Running() int {
	n := 0
	for _, p := range r.Processes {
		n += p.Running()
	}
	return n
}

// CertSource reports what pier knows of a host's certificate; the router
// implements it.
type CertSource interface {
	Certificate(ctx context.Context, host string) CertStatus
}

// HostCertificates reports the certificate of each of hosts, in order. A
// nil certs means pier serves no HTTPS: each host is "https disabled".
func HostCertificates(ctx context.Context, certs CertSource, hosts []string) []CertStatus {
	out := make([]CertStatus, 0, len(hosts))
	for _, h := range hosts {
		st := CertStatus{Host: h, Status: "https disabled"}
		if certs != nil {
			st = certs.Certificate(ctx, h)
		}
		out = append(out, st)
	}
	return out
}

// StateOf is a's state with what this machine knows of its crashes.
func (s *Service) StateOf(a App) AppState { return a.StateWith(Crashing(s.node, a)) }

// Unavailable says why name's web requests have nothing to answer them:
// a status and a page's title and text for the router, or status 0 when
// there is no reason to give but "not answering right now".
func (s *Service) Unavailable(ctx context.Context, name string) (status int, title, text string) {
	if ValidName(name) != nil {
		return 0, "", ""
	}
	a, err := s.store.App(ctx, name)
	if err != nil {
		return 0, "", ""
	}
	const notFound, down = 404, 503 // HTTP's statuses
	switch {
	case a.Release == 0:
		return notFound, name + " is not deployed yet", "Nothing has been pushed to it yet: a git push deploys it."
	case a.Stopped:
		return down, name + " is stopped", "Its owner stopped it; ps:start " + name + " starts it again."
	}
	rel, err := s.store.Release(ctx, name, a.Release)
	if err != nil {
		return 0, "", ""
	}
	switch {
	case rel.Static == "" && rel.Processes["web"] == "":
		return down, name + " has no web process", "It runs " + strings.Join(processTypes(rel), ", ") +
			", but nothing that answers web requests: its Procfile has no web: line."
	case FormationFor(a, rel)["web"] == 0:
		return down, name + " is scaled to zero", "No web process of it runs; ps:scale " + name + " web=1 starts one."
	}
	if c, ok := s.node.Crash(name, "web"); ok && c.Count >= CrashLoop {
		return down, name + " is crashing", "Its web process keeps exiting and is being restarted; its owner can see why with: logs " + name
	}
	return 0, "", ""
}

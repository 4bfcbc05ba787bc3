package app

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Activation says how a node makes a release live (see node.Activate).
type Activation struct {
	// Record is called once the release's processes are up and healthy,
	// before the route moves to them: it records the release as the app's
	// current one. nil: the release is current already (a restart).
	Record func(ctx context.Context) error
	// Restart says a user asked for it: crash backoff starts afresh.
	Restart bool
	// Only, if set, restarts that process type alone: its instances are
	// replaced, the others' left as they run (ps:restart APP TYPE).
	Only string
	// Out receives progress lines for the user; nil discards them.
	Out io.Writer
}

// Crash is what a node knows of one process type that keeps crashing.
type Crash struct {
	Count      int
	Last       time.Time
	Next       time.Time // no restart before
	LastOutput []string
}

// OneOffOf describes cmd run in a fresh container of a's release rel. A
// command that starts with a process type of rel's Procfile runs that
// type's command (the rest of cmd appended), as on Heroku and Dokku: `run
// hello console`, a cron entry `worker --once`.
func OneOffOf(a App, rel Release, cmd string, out io.Writer) OneOff {
	return OneOff{
		App: a.Name, Image: rel.Image, Command: ProcessCommand(rel, cmd), Env: EnvList(rel.Config),
		Volumes: a.Volumes, Limits: LimitsFor(a, rel), Out: out,
	}
}

// ProcessCommand is cmd with a leading process type of rel replaced by
// its command.
func ProcessCommand(rel Release, cmd string) string {
	name, rest, _ := strings.Cut(strings.TrimLeft(cmd, " \t"), " ")
	if c, ok := rel.Processes[name]; ok && c != "" {
		if rest = strings.TrimSpace(rest); rest != "" {
			return c + " " + rest
		}
		return c
	}
	return cmd
}

// FormationFor is how many instances of each of rel's process types should
// run: the app's formation where it names the type, else app.json's
// formation, else 1 web and 0 of the others (Heroku's and Dokku's default).
func FormationFor(a App, rel Release) map[string]int {
	f := map[string]int{}
	for k, v := range a.Formation {
		f[k] = v
	}
	for proc := range rel.Processes {
		if proc == "release" {
			continue
		}
		if _, ok := f[proc]; ok {
			continue
		}
		switch q, ok := rel.Manifest.Formation[proc]; {
		case ok:
			f[proc] = q
		case proc == "web":
			f[proc] = 1
		default:
			f[proc] = 0
		}
	}
	return f
}

// DescribeFormation says how many instances of each of rel's processes f
// runs, e.g. "web=1 worker=2".
func DescribeFormation(f map[string]int, rel Release) string {
	ran := map[string]int{}
	for proc, n := range f {
		if rel.Processes[proc] != "" && proc != "release" {
			ran[proc] = n
		}
	}
	return formationText(ran)
}

// EnvList turns config vars into KEY=value pairs, sorted.
func EnvList(cfg map[string]string) []string {
	env := make([]string, 0, len(cfg)+1)
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		env = append(env, k+"="+cfg[k])
	}
	return env
}

// Indent prefixes each line a command prints so it stands under the
// -----> step lines.
func Indent(w io.Writer) io.Writer { return &indenter{w: w, atStart: true} }

type indenter struct {
	w       io.Writer
	atStart bool
}

func (l *indenter) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, c := range string(p) {
		if l.atStart {
			b.WriteString("       ")
		}
		l.atStart = c == '\n'
		b.WriteRune(c)
	}
	if _, err := io.WriteString(l.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

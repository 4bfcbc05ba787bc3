package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// MaxScale is the most instances of one process type pier runs.
const MaxScale = 20

// Scale sets how many instances of process types run and converges to it:
// new web instances take traffic once they pass their checks; removed ones
// leave the route first and stop after their in-flight requests.
func (s *Service) Scale(ctx context.Context, name string, counts map[string]int) error {
	a, rel, unlock, err := s.current(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	formation := FormationFor(a, rel)
	for proc, n := range counts {
		if proc == "web" && rel.Static != "" {
			return errStaticScale(name, rel)
		}
		if rel.Processes[proc] == "" || proc == "release" {
			return fmt.Errorf("%s v%d has no process type %q (it has: %s)", name, rel.Version, proc, processList(rel))
		}
		if n < 0 || n > MaxScale {
			return fmt.Errorf("%s=%d: the count must be between 0 and %d", proc, n, MaxScale)
		}
		formation[proc] = n
	}
	if err := s.checkInstances(ctx, name, formation); err != nil {
		return err
	}
	// In a cluster the instances spread over machines: more machines are
	// added before the formation grows, and let go after it shrinks.
	var placement []string
	if s.placer != nil && s.set.Self() != "" {
		if placement, err = s.placer.Place(ctx, a, rel, formation); err != nil {
			return err
		}
		if slices.Equal(placement, a.Placement) {
			placement = nil
		}
	}
	grow := len(placement) > len(a.Placement)
	if placement != nil && grow {
		if err := s.apply(ctx, SetPlacement{App: name, Nodes: placement}); err != nil {
			return err
		}
	}
	if err := s.apply(ctx, SetFormation{App: name, Formation: formation}); err != nil {
		return err
	}
	if placement != nil && !grow {
		if err := s.apply(ctx, SetPlacement{App: name, Nodes: placement}); err != nil {
			return err
		}
	}
	return s.node.Converge(ctx, name)
}

// Restart replaces every instance of the app's current release with a new
// one, with zero downtime.
func (s *Service) Restart(ctx context.Context, name string, out io.Writer) error {
	a, rel, unlock, err := s.current(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if a.Stopped {
		return fmt.Errorf("%s is stopped: run ps:start %s", name, name)
	}
	if out == nil {
		out = io.Discard
	}
	// The restart is recorded first: every machine that runs the app
	// replaces what it started before, and this one's new instances
	// count as started after it.
	if err := s.apply(ctx, RestartApp{App: name}); err != nil {
		return err
	}
	a.Restarts++
	if nodes := PlacedElsewhere(a, s.set.Self()); nodes != nil {
		fmt.Fprintf(out, "-----> %s runs on %s: its instances there are replaced one by one, with zero downtime\n",
			name, strings.Join(nodes, ", "))
		return nil
	}
	rel.Processes = withoutRelease(rel.Processes) // no release phase on a restart
	return s.node.Activate(ctx, a, rel, Activation{Restart: true, Out: out})
}

// RestartType replaces the instances of one process type with fresh ones
// (zero downtime for web) and leaves the others as they run.
func (s *Service) RestartType(ctx context.Context, name, proc string, out io.Writer) error {
	if !validProcessType(proc) {
		return fmt.Errorf("invalid process type %q: want a Procfile name such as web or worker", proc)
	}
	a, rel, unlock, err := s.current(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if a.Stopped {
		return fmt.Errorf("%s is stopped: run ps:start %s", name, name)
	}
	if _, ok := rel.Processes[proc]; !ok || proc == "release" {
		return fmt.Errorf("%s has no %s process; its types are %s", name, proc, strings.Join(processTypes(rel), ", "))
	}
	if FormationFor(a, rel)[proc] == 0 {
		return fmt.Errorf("%s runs no %s process: ps:scale %s %s=1 starts one", name, proc, name, proc)
	}
	if nodes := PlacedElsewhere(a, s.set.Self()); nodes != nil {
		return fmt.Errorf("%s runs on %s: restart one type there (ssh pier@%s ps:restart %s %s), or all of it with ps:restart %s",
			name, strings.Join(nodes, ", "), nodes[0], name, proc, name)
	}
	if out == nil {
		out = io.Discard
	}
	return s.node.Activate(ctx, a, rel, Activation{Restart: true, Only: proc, Out: out})
}

// processTypes are rel's process types but release, sorted.
func processTypes(rel Release) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(rel.Processes)) {
		if p != "release" {
			out = append(out, p)
		}
	}
	return out
}

// Stop stops every process of the app and keeps it stopped (across daemon
// restarts and deploys) until Start.
func (s *Service) Stop(ctx context.Context, name string) error {
	a, _, unlock, err := s.current(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.apply(ctx, SetStopped{App: name, Stopped: true}); err != nil {
		return err
	}
	if a.Asleep != Awake {
		if err := s.apply(ctx, SetSleepState{App: name, State: Awake}); err != nil {
			return err
		}
	}
	s.node.Retire(ctx, name)
	return nil
}

// Start undoes Stop: the app's formation starts again.
func (s *Service) Start(ctx context.Context, name string) error {
	_, _, unlock, err := s.current(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.apply(ctx, SetStopped{App: name, Stopped: false}); err != nil {
		return err
	}
	return s.node.Converge(ctx, name)
}

// current locks a deployed app and returns it with its current release.
func (s *Service) current(ctx context.Context, name string) (App, Release, func(), error) {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return App{}, Release{}, nil, err
	}
	if a.Release == 0 {
		unlock()
		return App{}, Release{}, nil, fmt.Errorf("%s has not been deployed yet: push it first", name)
	}
	rel, err := s.store.Release(ctx, name, a.Release)
	if err != nil {
		unlock()
		return App{}, Release{}, nil, err
	}
	return a, rel, unlock, nil
}

// ProcessReport is the state of one process type of an app.
type ProcessReport struct {
	Type      string
	Command   string
	Desired   int
	Instances []Instance
	// Crashes counts recent deaths; NextRestart is when heal tries again.
	Crashes     int
	LastCrash   time.Time
	NextRestart time.Time
	LastOutput  []string
}

// Report is what ps:report shows.
type Report struct {
	App       App
	Release   Release
	Processes []ProcessReport
	// Elsewhere names the machines of the cluster that run the app when
	// this one does not: Processes then counts none running here. On a
	// machine that runs a share of it, Processes counts that share.
	Elsewhere []string
}

// Report describes an app's processes: desired and running instances, and
// crash loops.
func (s *Service) Report(ctx context.Context, name string) (Report, error) {
	a, err := s.App(ctx, name)
	if err != nil {
		return Report{}, err
	}
	r := Report{App: a, Elsewhere: PlacedElsewhere(a, s.set.Self())}
	if a.Release == 0 {
		return r, nil
	}
	if r.Release, err = s.store.Release(ctx, name, a.Release); err != nil {
		return Report{}, err
	}
	// In a cluster, this machine's share of the formation.
	formation := ShareOf(FormationFor(a, r.Release), a.Placement, s.set.Self())
	var have []Instance
	for _, in := range s.node.Instances(ctx, name) {
		if in.Release == a.Release {
			have = append(have, in)
		}
	}
	for _, proc := range slices.Sorted(maps.Keys(r.Release.Processes)) {
		if proc == "release" {
			continue
		}
		p := ProcessReport{Type: proc, Command: r.Release.Processes[proc], Desired: formation[proc]}
		if a.Stopped {
			p.Desired = 0
		}
		for _, in := range have {
			if in.Process == proc {
				p.Instances = append(p.Instances, in)
			}
		}
		sort.Slice(p.Instances, func(i, j int) bool { return p.Instances[i].ID < p.Instances[j].ID })
		if c, ok := s.node.Crash(name, proc); ok {
			p.Crashes, p.LastCrash, p.NextRestart, p.LastOutput = c.Count, c.Last, c.Next, c.LastOutput
		}
		r.Processes = append(r.Processes, p)
	}
	return r, nil
}

func processList(rel Release) string {
	var names []string
	for _, k := range slices.Sorted(maps.Keys(rel.Processes)) {
		if k != "release" {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func withoutRelease(p map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		if k != "release" {
			out[k] = v
		}
	}
	return out
}

// errStaticScale is what scaling web of a static site says.
func errStaticScale(name string, rel Release) error {
	return fmt.Errorf("%s v%d is a static site: the router serves its files from %s and no web process runs, so there is nothing to scale (a Procfile with a web: line makes it an app with a web process)",
		name, rel.Version, rel.Static)
}

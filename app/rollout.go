package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// activate makes rel the running release of a with zero downtime: it runs
// rel's release phase and predeploy script, starts the formation's
// instances next to the running ones, waits until every web instance passes
// its checks, records rel (if isNew), moves the route, and retires the
// previous instances once their in-flight requests finished; a new release's
// cron entries replace the app's schedule as it is recorded. A static
// site's files are mounted in place of starting web instances, and the route
// moves to them; sites of earlier releases are unmounted once drained. On
// any failure before the route moves, what was started or mounted for rel
// is removed and the previous release (and schedule) keeps serving. The
// caller holds the app's lock.
func (s *Service) activate(ctx context.Context, a App, rel Release, isNew bool, out io.Writer) error {
	formation := formationFor(a, rel)
	for _, phase := range []struct{ name, cmd string }{
		{"release", rel.Processes["release"]},
		{"predeploy", rel.Manifest.Scripts.Predeploy},
	} {
		if phase.cmd == "" {
			continue
		}
		fmt.Fprintf(out, "-----> Running %s: %s\n", phase.name, phase.cmd)
		code, err := s.runtime.RunOnce(ctx, s.oneOff(a, rel, phase.cmd, indent(out)))
		if err != nil {
			return fmt.Errorf("%s phase of v%d: %w", phase.name, rel.Version, err)
		}
		if code != 0 {
			return fmt.Errorf("%s phase of v%d failed (exit status %d); v%d was not released", phase.name, rel.Version, code, rel.Version)
		}
	}
	if !mapsEqual(formation, a.Formation) {
		if err := s.apply(ctx, SetFormation{App: a.Name, Formation: formation}); err != nil {
			return err
		}
		a.Formation = formation
	}

	old := s.instancesOf(ctx, a.Name, func(Instance) bool { return true })
	// A restart or a config change serves the same image's site on.
	hadSite := rel.Static != "" && len(s.sitesOf(ctx, a.Name, func(st Site) bool { return st.Image == rel.Image })) > 0
	var (
		started []Instance
		site    string // the directory a static release is served from
	)
	// undo removes what was started for rel, if rel does not go live.
	undo := func() {
		for _, in := range started {
			s.stop(in.ID)
		}
		if site != "" && !hadSite {
			if err := s.sites.UnmountSite(context.WithoutCancel(ctx), rel.Image); err != nil {
				s.log.Warn("unmount site", "app", a.Name, "image", rel.Image, "err", err)
			}
		}
	}
	if a.Stopped {
		fmt.Fprintf(out, "-----> %s is stopped: v%d is recorded and starts with ps:start\n", a.Name, rel.Version)
	} else {
		var err error
		if rel.Static != "" {
			if site, err = s.mountSite(ctx, rel); err != nil {
				return err
			}
			fmt.Fprintf(out, "-----> Serving v%d as a static site: the router serves its files, no container runs for web\n", rel.Version)
		}
		if desc := describeFormation(formation, rel); desc != "" || rel.Static == "" {
			fmt.Fprintf(out, "-----> Starting v%d: %s\n", rel.Version, desc)
			started, err = s.startAll(ctx, a, rel, formation)
			if err != nil {
				undo()
				return err
			}
		}
	}
	if isNew {
		if err := s.apply(ctx, PutRelease{Release: rel}); err != nil {
			undo()
			return fmt.Errorf("record release v%d: %w", rel.Version, err)
		}
		s.setCron(a.Name, rel.Cron)
	}
	if !a.Stopped {
		if site != "" {
			if err := s.routes.SetStatic(a.Name, site); err != nil {
				return fmt.Errorf("route %s to the files of v%d: %w", a.Name, rel.Version, err)
			}
		} else {
			s.routes.Set(a.Name, webAddrs(started))
		}
		s.clearCrashes(a.Name)
		if a.Asleep != Awake {
			if err := s.apply(ctx, SetSleepState{App: a.Name, State: Awake}); err != nil {
				s.log.Warn("record awake", "app", a.Name, "err", err)
			}
		}
		s.markAwake(a.Name)
		s.routes.SetAsleep(a.Name, false)
	}
	go s.retire(old)
	s.retireSitesLater(a.Name, otherThan(rel))

	if cmd := rel.Manifest.Scripts.Postdeploy; cmd != "" && !a.Stopped {
		fmt.Fprintf(out, "-----> Running postdeploy: %s\n", cmd)
		code, err := s.runtime.RunOnce(ctx, s.oneOff(a, rel, cmd, indent(out)))
		if err != nil || code != 0 {
			fmt.Fprintf(out, " !     postdeploy failed (exit status %d, %v); v%d is serving\n", code, err, rel.Version)
		}
	}
	if isNew {
		s.collectGarbage(ctx, a.Name)
	}
	return nil
}

// startAll starts every instance of the formation, concurrently, and
// returns once all run and every web instance passed its checks. On error it
// returns what it started, for the caller to stop.
func (s *Service) startAll(ctx context.Context, a App, rel Release, formation map[string]int) ([]Instance, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started []Instance
		errs    []string
	)
	for _, proc := range slices.Sorted(maps.Keys(formation)) {
		if rel.Processes[proc] == "" || proc == "release" {
			continue
		}
		for i := 0; i < formation[proc]; i++ {
			wg.Add(1)
			go func(proc string) {
				defer wg.Done()
				in, err := s.startInstance(ctx, a, rel, proc)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					return
				}
				started = append(started, in)
			}(proc)
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		return started, fmt.Errorf("%s", errs[0])
	}
	return started, nil
}

// startInstance starts one instance of proc and, for web, waits until it
// passes its checks. On failure the instance is gone and the error carries
// the end of its output.
func (s *Service) startInstance(ctx context.Context, a App, rel Release, proc string) (Instance, error) {
	in := Instance{
		ID: instanceID(rel.App), App: rel.App, Release: rel.Version, Process: proc,
		Image: rel.Image, Command: rel.Processes[proc], Env: envList(rel.Config),
		Volumes: a.Volumes, Limits: limitsFor(a, rel),
	}
	if proc == "web" {
		in.Port = s.set.WebPort
		in.Env = append(in.Env, "PORT="+strconv.Itoa(s.set.WebPort))
	}
	in, err := s.runtime.Start(ctx, in)
	if err != nil {
		s.stop(in.ID)
		return Instance{}, fmt.Errorf("start %s of v%d: %w", proc, rel.Version, err)
	}
	if proc != "web" {
		return in, nil
	}
	if err := s.waitHealthy(ctx, in, rel.Manifest.Healthchecks["web"]); err != nil {
		tail := s.runtime.Tail(rel.App, in.ID, 20)
		s.stop(in.ID)
		msg := fmt.Sprintf("v%d did not become ready: %v", rel.Version, err)
		if len(tail) > 0 {
			msg += "\nlast output of web:\n    " + strings.Join(tail, "\n    ")
		}
		return Instance{}, fmt.Errorf("%s", msg)
	}
	return in, nil
}

// retire lets in-flight requests to old web instances finish (up to the
// drain limit), then stops every old instance: SIGTERM, SIGKILL after the
// runtime's stop timeout.
func (s *Service) retire(old []Instance) {
	var wg sync.WaitGroup
	for _, in := range old {
		wg.Add(1)
		go func(in Instance) {
			defer wg.Done()
			if in.Process == "web" && in.Addr != "" {
				// A request may have picked this address just before the route
				// moved; give it time to be counted, then wait for it.
				time.Sleep(s.set.Drain)
				ctx, cancel := context.WithTimeout(context.Background(), s.set.MaxDrain)
				s.routes.Drain(ctx, in.Addr)
				cancel()
			}
			s.stop(in.ID)
		}(in)
	}
	wg.Wait()
}

// oneOff describes a command run in a fresh container of rel.
func (s *Service) oneOff(a App, rel Release, cmd string, out io.Writer) OneOff {
	return OneOff{
		App: a.Name, Image: rel.Image, Command: cmd, Env: envList(rel.Config),
		Volumes: a.Volumes, Limits: limitsFor(a, rel), Out: out,
	}
}

// formationFor is how many instances of each of rel's process types should
// run: the app's formation where it names the type, else app.json's
// formation, else 1 web and 0 of the others (Heroku's and Dokku's default).
func formationFor(a App, rel Release) map[string]int {
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

func describeFormation(f map[string]int, rel Release) string {
	var parts []string
	for _, proc := range slices.Sorted(maps.Keys(f)) {
		if rel.Processes[proc] != "" && proc != "release" {
			parts = append(parts, fmt.Sprintf("%s=%d", proc, f[proc]))
		}
	}
	return strings.Join(parts, " ")
}

func webAddrs(ins []Instance) []string {
	var addrs []string
	for _, in := range ins {
		if in.Process == "web" && in.Addr != "" {
			addrs = append(addrs, in.Addr)
		}
	}
	sort.Strings(addrs)
	return addrs
}

// envList turns config vars into KEY=value pairs, sorted.
func envList(cfg map[string]string) []string {
	env := make([]string, 0, len(cfg)+1)
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		env = append(env, k+"="+cfg[k])
	}
	return env
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// indent prefixes each line a command prints so it stands under the
// -----> step lines.
func indent(w io.Writer) io.Writer { return &indenter{w: w, atStart: true} }

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

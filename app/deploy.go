package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// DeployRequest is one push to deploy.
type DeployRequest struct {
	App    string
	Dir    string // checked-out source; the caller removes it afterwards
	Commit string
	User   string    // who pushed (key name)
	Out    io.Writer // progress lines for the pusher
}

// Deploy builds req.Dir and makes it the app's running release, creating the
// app on first push. It returns once the new release answers and the route
// points at it; the previous release's instances are retired after their
// in-flight requests finished. A malformed Procfile or app.json, a missing
// required config var, a failed build, release phase or health check
// rejects the deploy: the previous release keeps serving and nothing of the
// attempt is left running. So does an invalid cron entry: the previous
// schedule keeps running.
func (s *Service) Deploy(ctx context.Context, req DeployRequest) (Release, error) {
	if err := ValidName(req.App); err != nil {
		return Release{}, err
	}
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	unlock := s.lock(req.App)
	defer unlock()

	procfile, cron, err := readProcfile(req.Dir)
	if err != nil {
		return Release{}, err
	}
	manifest, warnings, err := readManifest(req.Dir)
	if err != nil {
		return Release{}, err
	}
	cron, manifest.Cron = append(cron, manifest.Cron...), nil
	if len(cron) > MaxCronEntries {
		return Release{}, fmt.Errorf("%d cron entries in the Procfile and app.json: at most %d", len(cron), MaxCronEntries)
	}
	if err := s.cronp.Validate(cron); err != nil {
		return Release{}, err
	}
	for _, w := range warnings {
		fmt.Fprintf(out, " !     %s\n", w)
	}
	a, created, err := s.ensureApp(ctx, req.App)
	if err != nil {
		return Release{}, err
	}
	if created {
		fmt.Fprintf(out, "-----> Created app %s\n", req.App)
	}
	if m := manifest.Pier.Access; m != nil && len(m.Allow) > 0 && !ManifestAccessApplies(a) {
		fmt.Fprintf(out, " !     app.json: pier.access.allow is ignored: an admin set %s's access rules (http-auth:report %s)\n", req.App, req.App)
	}
	config, err := configFor(a, manifest)
	if err != nil {
		return Release{}, err
	}

	build, err := s.builder.Build(ctx, BuildRequest{
		App: req.App, UID: a.UID, Dir: req.Dir, Out: out, Web: procfile["web"] != "",
		Predeploy: manifest.Scripts.Predeploy, Env: EnvList(config), Volumes: a.Volumes,
	})
	if err != nil {
		return Release{}, err
	}
	procs := map[string]string{}
	for k, v := range build.Processes {
		procs[k] = v
	}
	for k, v := range procfile {
		procs[k] = v
	}
	static := build.Static
	if procs["web"] != "" {
		static = "" // a web process always wins
	}
	if static == "" && (len(procs) == 0 || len(procs) == 1 && procs["release"] != "") {
		s.removeImage(build.Image)
		return Release{}, fmt.Errorf("nothing to run: add a Procfile with a line like `web: node server.js`, or an index.html (at the top, in public/ or in dist/) to serve a static site")
	}

	version, err := s.nextVersion(ctx, req.App)
	if err != nil {
		s.removeImage(build.Image)
		return Release{}, err
	}
	rel := Release{
		App: req.App, Version: version, Image: build.Image, Stack: build.Stack, Static: static,
		Commit: req.Commit, Processes: procs, Config: config, Manifest: manifest, Cron: cron,
		Description: "deploy " + short(req.Commit), CreatedBy: req.User, CreatedAt: time.Now().UTC(),
	}
	if err := s.activate(ctx, a, rel, true, out); err != nil {
		// A failure after the release was recorded (its route) leaves
		// it current: its image stays.
		if !s.imageKept(ctx, rel) {
			s.removeImage(build.Image)
		}
		return Release{}, err
	}
	fmt.Fprintf(out, "-----> Released v%d of %s\n", rel.Version, req.App)
	s.log.Info("released", "app", req.App, "version", rel.Version, "by", req.User, "commit", short(req.Commit))
	return rel, nil
}

// configFor is the config a new release of a gets: the app's config vars,
// plus app.json env defaults and generated secrets for vars not set yet. A
// required var with no value is an error saying how to set it.
func configFor(a App, m Manifest) (map[string]string, error) {
	cfg := map[string]string{}
	for k, v := range a.Config {
		cfg[k] = v
	}
	for _, name := range slices.Sorted(maps.Keys(m.Env)) {
		spec := m.Env[name]
		if _, ok := cfg[name]; ok {
			continue
		}
		switch {
		case spec.Generator == "secret":
			cfg[name] = randomHex(32)
		case spec.Value != "":
			cfg[name] = spec.Value
		case spec.Required:
			return nil, fmt.Errorf("app.json: env %s is required and not set: run config:set %s %s=... --no-restart, then push again",
				name, a.Name, name)
		}
	}
	return cfg, nil
}

// nextVersion is the version a new release of app gets.
func (s *Service) nextVersion(ctx context.Context, app string) (int, error) {
	rs, err := s.store.Releases(ctx, app)
	if err != nil {
		return 0, err
	}
	if len(rs) == 0 {
		return 1, nil
	}
	return rs[0].Version + 1, nil
}

// activate makes rel the running release of a on the node, with zero
// downtime: once rel's processes are healthy, a new release (isNew) is
// recorded with the formation it runs (cron takes its entries from the
// recorded release); then old releases beyond KeepReleases are forgotten. On
// failure nothing is recorded and the previous release keeps serving. The
// caller holds the app's lock.
//
// In a cluster, the release starts on the machine that runs the app, or,
// for an app placed nowhere yet, on the one the placer chooses; a push
// builds where it was pushed to and the image follows.
func (s *Service) activate(ctx context.Context, a App, rel Release, isNew bool, out io.Writer) error {
	if err := s.checkInstances(ctx, a.Name, FormationFor(a, rel)); err != nil {
		return err
	}
	if isNew {
		node, err := s.activateOn(ctx, a, rel)
		if err != nil {
			return err
		}
		if node != "" {
			switch {
			case slices.Contains(a.Placement, node):
				fmt.Fprintf(out, "-----> %s runs on %s: starting v%d there\n", a.Name, node, rel.Version)
			case len(a.Placement) > 0:
				fmt.Fprintf(out, "-----> Moving %s from %s to %s: starting v%d there\n", a.Name, strings.Join(a.Placement, ", "), node, rel.Version)
			default:
				fmt.Fprintf(out, "-----> Placing %s on %s, the machine with the most room: starting v%d there\n", a.Name, node, rel.Version)
			}
			return s.remote.ActivateOn(ctx, node, rel, out)
		}
	}
	return s.activateHere(ctx, a, rel, isNew, out)
}

// activateHere is activate on this machine.
func (s *Service) activateHere(ctx context.Context, a App, rel Release, isNew bool, out io.Writer) error {
	act := Activation{Out: out}
	formed := false // the release was recorded with a formation of its own
	if isNew {
		act.Record = func(ctx context.Context) error {
			// The formation the release runs is recorded with it, in one
			// change: a deploy that fails to record keeps none of it.
			put := PutRelease{Release: rel}
			if f := FormationFor(a, rel); !maps.Equal(f, a.Formation) {
				put.Formation = f
			}
			// A push to a machine the app is not placed on moves it there
			// (Activate started it there whole); one placed on several
			// stays spread.
			if self := s.set.Self(); self != "" && !slices.Contains(a.Placement, self) {
				put.Placement = []string{self}
			}
			if err := s.apply(ctx, put); err != nil {
				return err
			}
			formed = put.Formation != nil
			return nil
		}
	}
	if err := s.node.Activate(ctx, a, rel, act); err != nil {
		// A failure after the record (the route did not move) leaves
		// the previous processes serving: the formation goes back to
		// theirs.
		if formed {
			if rerr := s.apply(context.WithoutCancel(ctx), SetFormation{App: a.Name, Formation: a.Formation}); rerr != nil {
				return fmt.Errorf("%w (and restore the formation of %s: %v)", err, a.Name, rerr)
			}
		}
		return err
	}
	if isNew {
		s.collectGarbage(ctx, a.Name)
	}
	return nil
}

// activateOn returns the other machine a new release of a starts on; ""
// for this one (also on a machine in no cluster, and whenever a runs
// here, if only in part: the others take their share from the log).
// It fails when no machine may run the release (pier.node_labels).
func (s *Service) activateOn(ctx context.Context, a App, rel Release) (string, error) {
	self := s.set.Self()
	if self == "" || s.remote == nil || s.placer == nil {
		return "", nil
	}
	nodes, err := s.placer.Place(ctx, a, rel, FormationFor(a, rel))
	if err != nil {
		return "", err
	}
	if len(nodes) == 0 || slices.Contains(nodes, self) {
		return "", nil
	}
	return nodes[0], nil
}

// ActivateHere makes rel, a new release another machine made (it built
// it, or rolled back to it), a's running release on this machine, as a
// deploy here would: health-gated, recorded once healthy (placed here,
// unless a runs on several machines), nothing recorded on failure.
func (s *Service) ActivateHere(ctx context.Context, rel Release, out io.Writer) error {
	a, unlock, err := s.locked(ctx, rel.App)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.store.Release(ctx, rel.App, rel.Version); err == nil {
		return fmt.Errorf("%s v%d is recorded already", rel.App, rel.Version)
	}
	if err := s.activateHere(ctx, a, rel, true, out); err != nil {
		if !s.imageKept(ctx, rel) {
			s.removeImage(rel.Image)
		}
		return err
	}
	return nil
}

// imageKept reports whether a kept release of rel's app runs rel's image.
func (s *Service) imageKept(ctx context.Context, rel Release) bool {
	rs, err := s.store.Releases(ctx, rel.App)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(rs, func(r Release) bool { return r.Image == rel.Image })
}

func (s *Service) removeImage(image string) { s.node.RemoveImage(image) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func short(commit string) string {
	if len(commit) > 8 {
		return commit[:8]
	}
	return commit
}

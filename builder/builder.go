// Package builder turns an app's source into an app layer on the shared base
// image: it detects the stack, copies the source into a workspace on a
// snapshot of the base, runs the stack's build there as the unprivileged app
// user with a per-app build cache, and commits the result as the app's image.
package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"time"

	"pier/app"
	"pier/runtime"
)

var _ app.Builder = (*Builder)(nil)

// RunEnv is the environment every app process starts with (config vars come
// on top).
var RunEnv = []string{
	"PATH=/app/node_modules/.bin:/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/tmp",
	"NODE_ENV=production",
	"PYTHONUNBUFFERED=1",
	"PYTHONDONTWRITEBYTECODE=1",
}

// Sandbox gives the builder writable snapshots of a base image, and an
// app's volumes for its predeploy script.
type Sandbox interface {
	Prepare(ctx context.Context, base string, fill func(root string) error) (*runtime.Workspace, error)
	VolumeMounts(app string, uid int, vols []app.Volume) ([]runtime.Mount, error)
	// HasImage and PruneDepsImages keep an app's dependency layer (see
	// Deps): whether it exists, and removing all but the latest.
	HasImage(ctx context.Context, ref string) (bool, error)
	PruneDepsImages(ctx context.Context, app, keep string) error
}

// Config configures builds.
type Config struct {
	Base     string // base image reference
	CacheDir string // per-app build caches (npm's, pip's) live in CacheDir/<app>
	// CABundle, if set, is mounted read-only into build containers and named by
	// NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, PIP_CERT and REQUESTS_CA_BUNDLE.
	CABundle string
	// Timeout bounds a build, predeploy included (default 15 minutes):
	// past it the build is stopped and the push rejected.
	Timeout time.Duration
	// Reserve is the free space pier keeps on CacheDir's disk: a build
	// that fails with less than that free empties its app's cache, so that
	// what it wrote there does not keep the disk full (0: never).
	Reserve int64
	Log     *slog.Logger
}

// Builder builds apps. Safe for concurrent use on different apps; the caller
// serializes builds of one app (they share its cache).
type Builder struct {
	cfg Config
	sb  Sandbox
}

// New returns a Builder running builds in sb.
func New(cfg Config, sb Sandbox) *Builder { return &Builder{cfg: cfg, sb: sb} }

const caPath = "/etc/pier/ca.crt"

// Build builds req.Dir into a new image for req.App, within Config.Timeout.
func (b *Builder) Build(ctx context.Context, req app.BuildRequest) (app.Build, error) {
	limit := b.cfg.Timeout
	if limit <= 0 {
		limit = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	build, err := b.build(ctx, req)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return app.Build{}, fmt.Errorf("the build took longer than %s and was stopped (pier serve --build-timeout sets the limit); the running release keeps serving", limit)
	}
	return build, err
}

func (b *Builder) build(ctx context.Context, req app.BuildRequest) (app.Build, error) {
	start := time.Now()
	stack, err := Detect(req.Dir)
	if err != nil {
		return app.Build{}, err
	}
	fmt.Fprintf(req.Out, "-----> Building %s (%s)\n", req.App, stack.Name)
	var parts []string // where the build's time went, for the Built line
	mark := func(what string) {
		parts = append(parts, fmt.Sprintf("%s %.2fs", what, time.Since(start).Seconds()))
		start = time.Now()
	}
	began := start

	// The dependencies: a layer kept from an earlier build, or made now;
	// installed in the workspace if the source brings its own directory
	// of them or the app's own code is one of them.
	base, script := b.cfg.Base, stack.Script
	if stack.Note != "" {
		fmt.Fprintf(req.Out, "-----> %s\n", stack.Note)
	}
	if d := stack.Deps; d != nil {
		key, ok := d.key(req.Dir, b.cfg.Base, userSpec(appUser(req)))
		if !ok || d.Every || present(req.Dir, d.Dir) {
			script = d.Script + script
		} else {
			if base, err = b.depsLayer(ctx, req, stack.Name, key, d); err != nil {
				return app.Build{}, err
			}
			mark("dependencies")
		}
	}

	uid, gid := appUser(req)
	ws, err := b.sb.Prepare(ctx, base, func(root string) error {
		if err := nameUser(root, uid, gid); err != nil {
			return err
		}
		return copyTree(req.Dir, filepath.Join(root, "app"), uid, gid)
	})
	if err != nil {
		return app.Build{}, fmt.Errorf("prepare build: %w", err)
	}
	mark("copy")
	committed := false
	defer func() {
		if !committed {
			ws.Discard(context.WithoutCancel(ctx))
		}
	}()

	if script != "" {
		if err := b.script(ctx, ws, req, script, fmt.Sprintf("the %s build failed", stack.Name)); err != nil {
			return app.Build{}, err
		}
		mark(stack.Name)
	}

	if req.Predeploy != "" {
		if err := b.predeploy(ctx, ws, req); err != nil {
			return app.Build{}, err
		}
		mark("predeploy")
	}

	// No web process: an index.html makes it a static site. It is looked
	// for after the build, which may have made it (npm run build → dist/).
	static := ""
	if !req.Web && stack.Processes["web"] == "" {
		find := func(root string) error {
			if d, ok := siteDir(root); ok {
				static = path.Join("/app", d)
				fmt.Fprintf(req.Out, "-----> Static site: serving %s\n", siteLabel(d))
			}
			return nil
		}
		if script == "" && req.Predeploy == "" {
			// Nothing ran on the source (a dependency layer holds only the
			// dependencies): it is what was copied.
			err = find(req.Dir)
		} else {
			err = ws.Look(ctx, func(root string) error { return find(filepath.Join(root, "app")) })
		}
		if err != nil {
			return app.Build{}, fmt.Errorf("look for a static site: %w", err)
		}
	}

	ref := fmt.Sprintf("%s%s:%s", runtime.AppImagePrefix, req.App, time.Now().UTC().Format("20060102-150405.000000"))
	err = ws.Commit(ctx, ref, runtime.ImageConfig{
		Env:        RunEnv,
		User:       userSpec(uid, gid),
		WorkingDir: "/app",
		Labels:     map[string]string{"pier.app": req.App, "pier.stack": stack.Name},
	})
	committed = true
	if err != nil {
		return app.Build{}, fmt.Errorf("commit app layer: %w", err)
	}
	mark("layer")
	fmt.Fprintf(req.Out, "-----> Built %s in %.1fs (%s)\n", req.App, time.Since(began).Seconds(), strings.Join(parts, ", "))
	return app.Build{Image: ref, Stack: stack.Name, Processes: stack.Processes, Static: static}, nil
}

// predeploy runs req.Predeploy in the built workspace as the app would
// run: the app user in /app, its config and volumes, no cache.
func (b *Builder) predeploy(ctx context.Context, ws *runtime.Workspace, req app.BuildRequest) error {
	fmt.Fprintf(req.Out, "-----> Running predeploy: %s\n", req.Predeploy)
	uid, gid := appUser(req)
	mounts, err := b.sb.VolumeMounts(req.App, uid, req.Volumes)
	if err != nil {
		return err
	}
	code, err := ws.Run(ctx, runtime.RunSpec{
		Args:   []string{"/bin/sh", "-c", req.Predeploy},
		Env:    append(append([]string{}, RunEnv...), req.Env...),
		User:   userSpec(uid, gid),
		Cwd:    "/app",
		Mounts: mounts,
		Out:    indent(req.Out),
	})
	if err != nil && code <= 0 {
		return fmt.Errorf("run predeploy: %w", err)
	}
	if code != 0 {
		return fmt.Errorf("scripts.dokku.predeploy failed (exit status %d); the output above says why, and nothing was released", code)
	}
	return nil
}

// indent prefixes build output lines so they stand under the -----> steps,
// except the build script's own -----> lines.
func indent(w io.Writer) io.Writer { return &lineWriter{w: w, atStart: true} }

type lineWriter struct {
	w       io.Writer
	atStart bool
}

func (l *lineWriter) Write(p []byte) (int, error) {
	var out strings.Builder
	for _, c := range string(p) {
		if l.atStart && c != '-' {
			out.WriteString("       ")
		}
		l.atStart = c == '\n'
		out.WriteRune(c)
	}
	if _, err := io.WriteString(l.w, out.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

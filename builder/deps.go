package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"pier/app"
	"pier/runtime"
)

// Deps is how a stack installs an app's dependencies: into one directory
// of /app, read from a few files of the source. The directory is built
// into a layer of its own under the app's layer, kept while those files,
// the base and the install script stay the same: a push that changes only
// code then installs nothing and copies nothing, it builds on that layer.
type Deps struct {
	Dir    string   // the directory under /app: node_modules, .venv
	What   string   // what it is called in messages
	Files  []string // the source files the dependencies are read from
	Script string   // installs them in /app, as the app user, /cache mounted
	// Every is set when the dependencies include the app's own code (pip's
	// "." or "-e ."): they are installed in each build, on the source.
	Every bool
}

// maxKeyFile bounds a file the dependency key is made of (a lockfile).
const maxKeyFile = 64 << 20

// key identifies the dependency layer of the source in dir on base, built
// as user (its files are that user's): the install script, the base, the
// user and the content of Files. A file that cannot be read (a link out of
// the source) makes no key: the dependencies are then installed with each
// build.
func (d *Deps) key(dir, base, user string) (string, bool) {
	h := sha256.New()
	fmt.Fprintf(h, "pier deps 2\n%s\n%s\n%d\n%s", base, user, len(d.Script), d.Script)
	for _, name := range d.Files {
		b, ok, err := app.ReadSourceFile(dir, name, maxKeyFile)
		if err != nil {
			return "", false
		}
		if !ok {
			fmt.Fprintf(h, "\n%s -1\n", name)
			continue
		}
		fmt.Fprintf(h, "\n%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], true
}

// keepOnly ends the install script of a dependency layer: everything else
// the install saw (the source, a lockfile npm wrote) is removed, so that
// the layer holds the dependencies alone and a file deleted from the source
// is not brought back by it.
func keepOnly(dir string) string {
	return fmt.Sprintf("\nfind /app -mindepth 1 -maxdepth 1 ! -name %s -exec rm -rf {} +\n", shellQuote(dir))
}

// depsLayer returns the image to build req on: base and req's dependency
// layer, made now unless it was kept from an earlier build. Only the
// latest layer of an app is kept.
func (b *Builder) depsLayer(ctx context.Context, req app.BuildRequest, stack, key string, d *Deps) (string, error) {
	ref := runtime.DepsImage(req.App, key)
	if ok, err := b.sb.HasImage(ctx, ref); err != nil {
		return "", err
	} else if ok {
		fmt.Fprintf(req.Out, "-----> Dependencies unchanged: building on the %s of the last build\n", d.What)
		return ref, nil
	}
	uid, gid := appUser(req)
	ws, err := b.sb.Prepare(ctx, b.cfg.Base, func(root string) error {
		if err := nameUser(root, uid, gid); err != nil {
			return err
		}
		return copyTree(req.Dir, filepath.Join(root, "app"), uid, gid)
	})
	if err != nil {
		return "", fmt.Errorf("prepare build: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			ws.Discard(context.WithoutCancel(ctx))
		}
	}()
	if err := b.script(ctx, ws, req, d.Script+keepOnly(d.Dir), fmt.Sprintf("the %s build failed while installing the dependencies", stack)); err != nil {
		return "", err
	}
	err = ws.Commit(ctx, ref, runtime.ImageConfig{
		Env:        RunEnv,
		User:       userSpec(uid, gid),
		WorkingDir: "/app",
		Labels:     map[string]string{"pier.app": req.App, "pier.deps": key},
	})
	committed = true
	if err != nil {
		return "", fmt.Errorf("commit the dependency layer: %w", err)
	}
	if err := b.sb.PruneDepsImages(context.WithoutCancel(ctx), req.App, ref); err != nil && b.cfg.Log != nil {
		b.cfg.Log.Warn("older dependency layers not removed", "app", req.App, "err", err)
	}
	return ref, nil
}

// script runs a build script in ws as the app user in /app, with the app's
// build cache at /cache and pier's CA bundle trusted; failed starts the
// error if it fails.
func (b *Builder) script(ctx context.Context, ws *runtime.Workspace, req app.BuildRequest, script, failed string) error {
	cache := filepath.Join(b.cfg.CacheDir, req.App)
	if err := os.MkdirAll(cache, 0o750); err != nil {
		return err
	}
	uid, gid := appUser(req)
	if err := runtime.Own(cache, uid, gid); err != nil {
		return err
	}
	env := append([]string{}, RunEnv...)
	mounts := []runtime.Mount{{Source: cache, Target: "/cache"}}
	if b.cfg.CABundle != "" {
		mounts = append(mounts, runtime.Mount{Source: b.cfg.CABundle, Target: caPath, ReadOnly: true})
		env = append(env, "NODE_EXTRA_CA_CERTS="+caPath, "SSL_CERT_FILE="+caPath,
			"PIP_CERT="+caPath, "REQUESTS_CA_BUNDLE="+caPath)
	}
	code, err := ws.Run(ctx, runtime.RunSpec{
		Args:   []string{"/bin/sh", "-c", script},
		Env:    env,
		User:   userSpec(uid, gid),
		Cwd:    "/app",
		Mounts: mounts,
		Out:    indent(req.Out),
	})
	if err != nil && code <= 0 {
		b.giveBack(req, cache)
		return fmt.Errorf("run build: %w", err)
	}
	if code != 0 {
		b.giveBack(req, cache)
		return fmt.Errorf("%s (exit status %d); the output above says why", failed, code)
	}
	return nil
}

// giveBack empties the app's build cache after a failed build if the disk
// holding it has less than the reserve free: what the build wrote there
// would keep the disk full, and a cache only saves time.
func (b *Builder) giveBack(req app.BuildRequest, cache string) {
	var st syscall.Statfs_t
	if b.cfg.Reserve <= 0 || syscall.Statfs(cache, &st) != nil || int64(st.Bavail)*st.Bsize >= b.cfg.Reserve {
		return
	}
	if err := os.RemoveAll(cache); err != nil {
		if b.cfg.Log != nil {
			b.cfg.Log.Warn("empty the build cache", "app", req.App, "err", err)
		}
		return
	}
	fmt.Fprintf(req.Out, "-----> The disk is nearly full: %s's build cache was emptied to give its space back; the next build installs the dependencies again\n", req.App)
}

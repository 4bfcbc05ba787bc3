package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/mount"

	"pier/app"
	"pier/builder"
	"pier/runtime"
	"pier/runtime/runtimetest"
)

func isMountpoint(dir string) bool {
	info, err := mount.Lookup(dir)
	return err == nil && info.Mountpoint == filepath.Clean(dir)
}

// A static site's image is mounted read-only on the host without a
// container; the mount is found again by a restarted runtime, made again
// after it was lost (a reboot), kept through containerd's garbage
// collection, refused for a directory that is a link, and gone with
// UnmountSite or RemoveImage.
func TestSiteMount(t *testing.T) {
	env := runtimetest.Start(t)
	data := filepath.Join(env.Dir, "pier")
	rt := env.Runtime(t, data)
	ctx := context.Background()
	b := builder.New(builder.Config{Base: builder.DefaultBase, CacheDir: t.TempDir()}, rt)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "public"), 0o755)
	os.WriteFile(filepath.Join(src, "public", "index.html"), []byte("<h1>static</h1>"), 0o644)
	os.Symlink("/etc", filepath.Join(src, "etclink"))
	var out bytes.Buffer
	build, err := b.Build(ctx, app.BuildRequest{App: "site", Dir: src, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if build.Static != "/app/public" {
		t.Fatalf("build.Static = %q, want /app/public\n%s", build.Static, out.String())
	}

	dir, err := rt.MountSite(ctx, "site", build.Image, build.Static)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "index.html")); err != nil || string(got) != "<h1>static</h1>" {
		t.Fatalf("index.html through the mount: %q %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new.html"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("writing into the site: %v, want EROFS", err)
	}
	if n := env.Containers(t); n != 0 {
		t.Errorf("%d containers, want none", n)
	}
	mp := filepath.Dir(filepath.Dir(dir)) // .../sites/<key>/app/public
	if again, err := rt.MountSite(ctx, "site", build.Image, build.Static); err != nil || again != dir {
		t.Fatalf("second MountSite: %q %v, want %q", again, err, dir)
	}
	if _, err := rt.MountSite(ctx, "site", build.Image, "/app/etclink"); err == nil {
		t.Error("a site directory that is a link to /etc was accepted")
	}
	if _, err := rt.MountSite(ctx, "site", build.Image, "app/public"); err == nil {
		t.Error("a relative site directory was accepted")
	}

	t.Run("kept through garbage collection, even without its image", func(t *testing.T) {
		c, err := containerd.New(env.Address, containerd.WithDefaultNamespace(env.Namespace()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.ImageService().Delete(ctx, build.Image, images.SynchronousDelete()); err != nil {
			t.Fatal(err)
		}
		rt2 := reopen(t, env, data)
		if sites, err := rt2.Sites(ctx); err != nil || len(sites) != 1 {
			t.Fatalf("Sites() after GC: %+v %v", sites, err)
		}
		if again, err := rt2.MountSite(ctx, "site", build.Image, build.Static); err != nil || again != dir {
			t.Fatalf("MountSite after GC: %q %v", again, err)
		}
		if _, err := os.ReadFile(filepath.Join(dir, "index.html")); err != nil {
			t.Fatalf("site after GC: %v", err)
		}
	})

	t.Run("a restarted runtime finds it, and mounts it again after a reboot", func(t *testing.T) {
		rt2 := reopen(t, env, data)
		sites, err := rt2.Sites(ctx)
		if err != nil || len(sites) != 1 || sites[0] != (app.Site{App: "site", Image: build.Image, Dir: dir}) {
			t.Fatalf("Sites() = %+v, %v", sites, err)
		}
		if err := mount.UnmountAll(mp, 0); err != nil { // as a reboot would
			t.Fatal(err)
		}
		if again, err := rt2.MountSite(ctx, "site", build.Image, build.Static); err != nil || again != dir {
			t.Fatalf("MountSite after the mount was lost: %q %v", again, err)
		}
		if _, err := os.ReadFile(filepath.Join(dir, "index.html")); err != nil {
			t.Fatalf("site mounted again: %v", err)
		}
	})

	t.Run("UnmountSite removes the mount, its directory and snapshot", func(t *testing.T) {
		snaps := env.Snapshots(t)
		if err := rt.UnmountSite(ctx, build.Image); err != nil {
			t.Fatal(err)
		}
		if isMountpoint(mp) {
			t.Error("still mounted")
		}
		if _, err := os.Stat(mp); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("mountpoint left: %v", err)
		}
		if sites, _ := rt.Sites(ctx); len(sites) != 0 {
			t.Errorf("Sites() after UnmountSite: %+v", sites)
		}
		if n := env.Snapshots(t); n >= snaps {
			t.Errorf("snapshots %d → %d", snaps, n)
		}
		if err := rt.UnmountSite(ctx, build.Image); err != nil {
			t.Errorf("second UnmountSite: %v", err)
		}
	})

	t.Run("RemoveImage unmounts the image's site", func(t *testing.T) {
		build, err := b.Build(ctx, app.BuildRequest{App: "site", Dir: src, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		dir, err := rt.MountSite(ctx, "site", build.Image, build.Static)
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.RemoveImage(ctx, build.Image); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "index.html")); err == nil {
			t.Error("site still readable after RemoveImage")
		}
		if sites, _ := rt.Sites(ctx); len(sites) != 0 {
			t.Errorf("Sites() after RemoveImage: %+v", sites)
		}
	})
	if strings.Contains(out.String(), "Running") {
		t.Errorf("a static build ran something:\n%s", out.String())
	}
}

// reopen opens a second runtime on the same containerd and data, as a
// restarted daemon does.
func reopen(t *testing.T, env *runtimetest.Env, data string) *runtime.Containerd {
	t.Helper()
	rt, err := runtime.Open(context.Background(), runtime.Config{
		Address: env.Address, Namespace: env.Namespace(), DataDir: data, Network: env.Network,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

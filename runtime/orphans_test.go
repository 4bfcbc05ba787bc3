package runtime_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/pkg/netns"
	"golang.org/x/sys/unix"

	"pier/app"
	"pier/builder"
	"pier/runtime"
	"pier/runtime/runtimetest"
)

// What a daemon that crashed left and nothing owns is removed on start: a
// mount and temp dirs under the data dir, a build workspace's snapshot, a
// network namespace with no container and the address of a container that
// is gone. A running instance keeps its namespace, address and snapshot.
func TestRemoveOrphans(t *testing.T) {
	env := runtimetest.Start(t)
	data := filepath.Join(env.Dir, "pier")
	rt := env.Runtime(t, data)
	ctx := context.Background()

	in, err := rt.Start(ctx, app.Instance{ID: "orphans-web", App: "orphans", Release: 1, Process: "worker",
		Image: builder.DefaultBase, Command: "exec sleep 1000"})
	if err != nil {
		t.Fatal(err)
	}
	netnsDir, ipamDir := filepath.Join(data, "netns"), filepath.Join(data, "cni", env.Network.Name)
	list := func(dir string) map[string]bool {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, e := range entries {
			m[e.Name()] = true
		}
		return m
	}
	inUseNetns, inUseIPs := list(netnsDir), list(ipamDir)
	if len(inUseNetns) != 1 {
		t.Fatalf("the instance has network namespaces %v, want one", inUseNetns)
	}

	// The crash: a build's workspace never discarded, its mount point
	// still mounted, a one-off's output dir, a namespace made for a
	// container never created, an address of a container gone.
	snapshotsBefore := env.Snapshots(t)
	if _, err := rt.Prepare(ctx, builder.DefaultBase, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if env.Snapshots(t) != snapshotsBefore+1 {
		t.Fatal("the workspace made no snapshot")
	}
	mnt := filepath.Join(data, "tmp", "pier-mnt-crashed")
	run := filepath.Join(data, "tmp", "pier-run-crashed")
	for _, d := range []string{mnt, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	for _, f := range []string{filepath.Join(mnt, "inside"), filepath.Join(run, "output")} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stale, err := netns.NewNetNS(netnsDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stale.Remove() })
	ghost := filepath.Join(ipamDir, "10.254.254.254")
	if err := os.WriteFile(ghost, []byte("ghost-container\r\neth0"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := rt.RemoveOrphans(ctx); err != nil {
		t.Fatal(err)
	}

	if entries, err := os.ReadDir(filepath.Join(data, "tmp")); err != nil || len(entries) != 0 {
		t.Errorf("the temp dir holds %v (%v), want nothing", entries, err)
	}
	if got := env.Snapshots(t); got != snapshotsBefore {
		t.Errorf("%d snapshots after, want %d: the workspace's stayed", got, snapshotsBefore)
	}
	if _, err := os.Stat(stale.GetPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stale network namespace stayed: %v", err)
	}
	if _, err := os.Stat(ghost); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the gone container's address stayed allocated: %v", err)
	}
	for name := range inUseNetns {
		if _, err := os.Stat(filepath.Join(netnsDir, name)); err != nil {
			t.Errorf("the instance's network namespace went: %v", err)
		}
	}
	for name := range inUseIPs {
		if _, err := os.Stat(filepath.Join(ipamDir, name)); err != nil {
			t.Errorf("the instance's allocation %s went: %v", name, err)
		}
	}
	if ok, err := rt.Running(ctx, in.ID); err != nil || !ok {
		t.Errorf("the instance runs: %v, %v; want true", ok, err)
	}
}

// On start, the app images no kept release runs and the dependency layers
// of apps that do not exist go; the kept ones and the base stay.
func TestRemoveOrphanImages(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	c, err := containerd.New(env.Address, containerd.WithDefaultNamespace(env.Namespace()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	is := c.ImageService()
	base, err := is.Get(ctx, builder.DefaultBase)
	if err != nil {
		t.Fatal(err)
	}
	keep := []string{runtime.AppImagePrefix + "kept:2", runtime.DepsImage("kept", "k1"), builder.DefaultBase}
	gone := []string{runtime.AppImagePrefix + "kept:1", runtime.AppImagePrefix + "ghost:1", runtime.DepsImage("ghost", "k1")}
	for _, name := range append(slices.Clone(keep[:2]), gone...) {
		if _, err := is.Create(ctx, images.Image{Name: name, Target: base.Target}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.RemoveOrphanImages(ctx, map[string]bool{keep[0]: true}, map[string]bool{"kept": true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range keep {
		if ok, err := rt.HasImage(ctx, name); err != nil || !ok {
			t.Errorf("%s: kept %v, %v; want it kept", name, ok, err)
		}
	}
	for _, name := range gone {
		if ok, err := rt.HasImage(ctx, name); err != nil || ok {
			t.Errorf("%s: kept %v, %v; want it removed", name, ok, err)
		}
	}
}

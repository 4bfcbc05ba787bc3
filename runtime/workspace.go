package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/diff"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/leases"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/rootfs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Workspace is a writable snapshot of a base image in which an app is built;
// Commit turns what changed into the app's layer on that base. A Workspace is
// used by one goroutine; call Commit or Discard exactly once.
type Workspace struct {
	c        *Containerd
	key      string
	lease    leases.Lease
	base     []ocispec.Descriptor
	baseDiff []digest.Digest
}

// RunSpec is one command run in a workspace.
type RunSpec struct {
	Args   []string
	Env    []string
	User   string
	Cwd    string
	Mounts []Mount
	Out    io.Writer // stdout and stderr, streamed as they are written
}

// Prepare makes a workspace on base, mounts it on the host and calls fill with
// the mounted root so the caller can put the source in place.
func (c *Containerd) Prepare(ctx context.Context, base string, fill func(root string) error) (w *Workspace, err error) {
	ctx = c.ctx(ctx)
	lease, err := c.client.LeasesService().Create(ctx, leases.WithRandomID(), leases.WithExpiration(6*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	w = &Workspace{c: c, key: workspaceKey + randomID(), lease: lease}
	defer func() {
		if err != nil {
			w.Discard(context.WithoutCancel(ctx))
		}
	}()
	ctx = leases.WithLease(ctx, lease.ID)
	w.base, w.baseDiff, err = c.baseLayers(ctx, base)
	if err != nil {
		return w, err
	}
	sn := c.client.SnapshotService(c.cfg.Snapshotter)
	mounts, err := sn.Prepare(ctx, w.key, identity.ChainID(w.baseDiff).String())
	if err != nil {
		return w, fmt.Errorf("prepare snapshot of %s: %w", base, err)
	}
	dir, err := c.mkTemp("pier-mnt-")
	if err != nil {
		return w, err
	}
	defer os.Remove(dir)
	if err := mount.All(mounts, dir); err != nil {
		return w, fmt.Errorf("mount workspace: %w", err)
	}
	fillErr := fill(dir)
	if err := mount.UnmountAll(dir, 0); err != nil {
		return w, fmt.Errorf("unmount workspace: %w", err)
	}
	return w, fillErr
}

// Look mounts the workspace on the host and calls f with the mounted root,
// so the caller can see what a build left; f only reads, and must not keep
// the path: the mount is gone when Look returns. f's error is returned as is.
func (w *Workspace) Look(ctx context.Context, f func(root string) error) error {
	ctx = w.ctx(ctx)
	mounts, err := w.c.client.SnapshotService(w.c.cfg.Snapshotter).Mounts(ctx, w.key)
	if err != nil {
		return fmt.Errorf("workspace mounts: %w", err)
	}
	dir, err := w.c.mkTemp("pier-mnt-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := mount.All(mounts, dir); err != nil {
		return fmt.Errorf("mount workspace: %w", err)
	}
	fErr := f(dir)
	if err := mount.UnmountAll(dir, 0); err != nil {
		return fmt.Errorf("unmount workspace: %w", err)
	}
	return fErr
}

func (w *Workspace) ctx(ctx context.Context) context.Context {
	return leases.WithLease(w.c.ctx(ctx), w.lease.ID)
}

// Run runs one command in a container on the workspace (writable root, tmpfs
// /tmp, its own network namespace with outbound access) and returns its exit
// code. Output streams to spec.Out while it runs (see runToCompletion).
func (w *Workspace) Run(ctx context.Context, spec RunSpec) (code int, err error) {
	c := w.c
	if low := c.diskLow(); low != "" {
		if spec.Out != nil {
			fmt.Fprintln(spec.Out, low)
		}
		return 1, nil
	}
	id := w.key + "-" + randomID()[:6]
	// The snapshot is the workspace: the container must not remove it.
	return c.runToCompletion(w.ctx(ctx), id, spec.Out, false, stdio{}, func(nsPath, output string) []containerd.NewContainerOpts {
		return []containerd.NewContainerOpts{
			containerd.WithSnapshotter(c.cfg.Snapshotter),
			containerd.WithSnapshot(w.key),
			containerd.WithContainerLabels(map[string]string{labelKind: "build", labelNetns: nsPath}),
			containerd.WithNewSpec(c.specOpts(process{
				Args: spec.Args, Env: spec.Env, User: spec.User, Cwd: spec.Cwd,
				Mounts: spec.Mounts, Memory: c.cfg.BuildMemoryLimit, CPU: c.cfg.BuildCPU, Background: true, Netns: nsPath,
				Hostname: "build", Output: output,
			})...),
		}
	})
}

// Commit records what changed in the workspace as a new layer on the base and
// creates image ref from it. The workspace is gone afterwards.
func (w *Workspace) Commit(ctx context.Context, ref string, cfg ImageConfig) error {
	c := w.c
	ctx = w.ctx(ctx)
	defer w.Discard(context.WithoutCancel(ctx))
	sn := c.client.SnapshotService(c.cfg.Snapshotter)
	layer, diffID, err := c.upperDiff(ctx, w.key)
	if errors.Is(err, errNotOverlay) {
		layer, diffID, err = w.walkDiff(ctx)
	}
	if err != nil {
		return fmt.Errorf("diff workspace: %w", err)
	}
	diffIDs := append(append([]digest.Digest{}, w.baseDiff...), diffID)
	chain := identity.ChainID(diffIDs).String()
	if err := sn.Commit(ctx, chain, w.key); err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("commit layer: %w", err)
	}
	layers := append(append([]ocispec.Descriptor{}, w.base...), layer)
	return c.createImage(ctx, ref, cfg, layers, diffIDs)
}

// walkDiff is containerd's differ, for snapshotters other than overlay.
func (w *Workspace) walkDiff(ctx context.Context) (ocispec.Descriptor, digest.Digest, error) {
	c := w.c
	layer, err := rootfs.CreateDiff(ctx, w.key, c.client.SnapshotService(c.cfg.Snapshotter), c.client.DiffService(),
		diff.WithMediaType(ocispec.MediaTypeImageLayerGzip),
		diff.WithReference("pier-diff-"+w.key))
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	info, err := c.client.ContentStore().Info(ctx, layer.Digest)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	diffID, err := digest.Parse(info.Labels["containerd.io/uncompressed"])
	if err != nil {
		return ocispec.Descriptor{}, "", errNoUncompressed
	}
	return layer, diffID, nil
}

// Discard drops the workspace's snapshot and lease. Safe to call twice.
func (w *Workspace) Discard(ctx context.Context) error {
	c := w.c
	ctx = c.ctx(ctx)
	err := c.client.SnapshotService(c.cfg.Snapshotter).Remove(ctx, w.key)
	if errdefs.IsNotFound(err) {
		err = nil
	}
	lerr := c.client.LeasesService().Delete(ctx, w.lease)
	if errdefs.IsNotFound(lerr) {
		lerr = nil
	}
	return errors.Join(err, lerr)
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

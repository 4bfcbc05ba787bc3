package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/snapshots"
	"github.com/opencontainers/image-spec/identity"

	"pier/app"
)

// Labels of a site's snapshot; they are how mounted sites are read back.
const (
	labelSite    = "pier.site" // "1" on every site snapshot
	labelSiteDir = "pier.dir"  // the directory of the image the site serves
	labelImage   = "pier.image"
	labelGCRoot  = "containerd.io/gc.root"
)

// A static site's files are its image's own: a View snapshot of the image
// (read-only, no copy, no upper directory) mounted read-only at
// <DataDir>/sites/<id>. A View rather than the app layer's own directory:
// the snapshotter hands out the layer only as mount options whose form is its
// own business, while a View's mounts are the documented way to see an
// image's files, and mounting one costs no disk and a few kilobytes of
// kernel memory. The snapshot is a GC root (containerd.io/gc.root), so it
// keeps the app layer even once the image is removed, until UnmountSite
// removes it; it is labelled with the app, image and directory, so the
// mounted sites are known again after a daemon restart (Sites) and the mount
// is made again after a reboot (MountSite).

// siteKey names an image's site snapshot and mountpoint.
func siteKey(image string) string {
	sum := sha256.Sum256([]byte(image))
	return "pier-site-" + hex.EncodeToString(sum[:10])
}

func (c *Containerd) siteMountpoint(key string) string {
	return filepath.Join(c.cfg.DataDir, "sites", key)
}

// MountSite makes dir of appName's image (an absolute path in the image,
// such as /app/dist) readable on the host, read-only, and returns that host
// directory. It is idempotent: an image already mounted is not mounted
// again, and the mount outlives the daemon (a restarted daemon's call finds
// it; after a reboot it is made again). dir and every directory on its way
// must be real directories in the image, not symbolic links: what a link
// points to would be resolved on the host. Safe for concurrent use.
func (c *Containerd) MountSite(ctx context.Context, appName, image, dir string) (string, error) {
	ctx = c.ctx(ctx)
	c.sites.Lock()
	defer c.sites.Unlock()
	rel, err := siteRel(dir)
	if err != nil {
		return "", err
	}
	key := siteKey(image)
	mp := c.siteMountpoint(key)
	if !mounted(mp) {
		if err := c.mountSite(ctx, appName, image, dir, key, mp); err != nil {
			return "", err
		}
	}
	if err := realDirs(mp, rel); err != nil {
		return "", fmt.Errorf("site %s of %s: %w", dir, image, err)
	}
	return filepath.Join(mp, rel), nil
}

func (c *Containerd) mountSite(ctx context.Context, appName, image, dir, key, mp string) error {
	ctx, done, err := c.client.WithLease(ctx)
	if err != nil {
		return err
	}
	defer done(context.WithoutCancel(ctx))
	sn := c.client.SnapshotService(c.cfg.Snapshotter)
	mounts, err := sn.Mounts(ctx, key)
	if errdefs.IsNotFound(err) {
		img, ierr := c.client.GetImage(ctx, image)
		if ierr != nil {
			return fmt.Errorf("site of %s: %w", image, ierr)
		}
		diffIDs, ierr := img.RootFS(ctx)
		if ierr != nil {
			return fmt.Errorf("site of %s: %w", image, ierr)
		}
		mounts, err = sn.View(ctx, key, identity.ChainID(diffIDs).String(), snapshots.WithLabels(map[string]string{
			labelSite: "1", labelApp: appName, labelImage: image, labelSiteDir: dir,
			labelGCRoot: time.Now().UTC().Format(time.RFC3339),
		}))
	}
	if err != nil {
		return fmt.Errorf("view of %s: %w", image, err)
	}
	for i := range mounts {
		if !slices.Contains(mounts[i].Options, "ro") {
			mounts[i].Options = append(slices.Clone(mounts[i].Options), "ro")
		}
	}
	if err := os.MkdirAll(mp, 0o700); err != nil {
		return err
	}
	if err := mount.All(mounts, mp); err != nil {
		return fmt.Errorf("mount site of %s: %w", image, err)
	}
	return nil
}

// UnmountSite undoes MountSite: the mount is detached (files the router
// still has open stay readable until closed) and the snapshot removed, so
// the app layer goes with its image. An image that has no site is not an
// error. Safe for concurrent use.
func (c *Containerd) UnmountSite(ctx context.Context, image string) error {
	ctx = c.ctx(ctx)
	c.sites.Lock()
	defer c.sites.Unlock()
	key := siteKey(image)
	mp := c.siteMountpoint(key)
	if err := mount.UnmountAll(mp, syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount site of %s: %w", image, err)
	}
	if err := os.Remove(mp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unmount site of %s: %w", image, err)
	}
	err := c.client.SnapshotService(c.cfg.Snapshotter).Remove(ctx, key)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove site snapshot of %s: %w", image, err)
	}
	return nil
}

// Sites lists the images MountSite mounted (or whose mount a reboot undid
// and the next MountSite makes again), with their host directories.
func (c *Containerd) Sites(ctx context.Context) ([]app.Site, error) {
	ctx = c.ctx(ctx)
	var out []app.Site
	err := c.client.SnapshotService(c.cfg.Snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		l := info.Labels
		if l[labelSite] != "1" || info.Name != siteKey(l[labelImage]) {
			return nil
		}
		rel, err := siteRel(l[labelSiteDir])
		if err != nil {
			return nil
		}
		out = append(out, app.Site{App: l[labelApp], Image: l[labelImage], Dir: filepath.Join(c.siteMountpoint(info.Name), rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	return out, nil
}

// siteRel turns an absolute directory of an image into a clean relative
// path ("." for the root).
func siteRel(dir string) (string, error) {
	if !strings.HasPrefix(dir, "/") {
		return "", fmt.Errorf("site directory %q is not an absolute path", dir)
	}
	return filepath.Rel("/", filepath.Clean(dir))
}

// realDirs checks that rel, below root, is a directory reached through
// directories only (no symbolic link on the way), looking through an
// os.Root so that nothing outside root is ever consulted.
func realDirs(root, rel string) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	if rel == "." {
		return nil
	}
	p := ""
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		fi, err := r.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("/%s is not a directory (%s)", p, fi.Mode().Type())
		}
	}
	return nil
}

// mounted reports whether dir is a mountpoint.
func mounted(dir string) bool {
	info, err := mount.Lookup(dir)
	return err == nil && info.Mountpoint == filepath.Clean(dir)
}

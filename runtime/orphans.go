package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/pkg/netns"
	"github.com/containerd/containerd/snapshots"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// tmpDir holds what pier makes for a while and removes itself: the mount
// points of build workspaces, the output of one-off runs. Nothing in it
// outlives the daemon that made it, so RemoveOrphans empties it at start.
func (c *Containerd) tmpDir() string { return filepath.Join(c.cfg.DataDir, "tmp") }

// TempDir returns tmpDir, made if missing, for what pier's other parts
// unpack for a while (pushed trees, rebuild checkouts): RemoveOrphans
// empties it on start along with the runtime's own.
func (c *Containerd) TempDir() (string, error) {
	return c.tmpDir(), os.MkdirAll(c.tmpDir(), 0o700)
}

// mkTemp makes a fresh directory in tmpDir.
func (c *Containerd) mkTemp(pattern string) (string, error) {
	if err := os.MkdirAll(c.tmpDir(), 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(c.tmpDir(), pattern)
}

// RemoveOrphans removes what a daemon that crashed left and nothing owns:
// mounts and directories under tmpDir, build workspaces' snapshots,
// network namespaces no container of pier's namespace names, the IP
// addresses allocated to containers that do not exist and their raw
// output (collected first). Containers and their own snapshots are left
// alone (Reconcile and RemoveLeftovers see to them). Call it on start,
// before anything builds, runs or starts an instance: what those make in
// the meantime would look orphaned.
func (c *Containerd) RemoveOrphans(ctx context.Context) error {
	ctx = c.ctx(ctx)
	errs := []error{c.removeTemps()}
	containers, err := c.client.Containers(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list containers: %w", err))...)
	}
	ids := map[string]bool{}
	nsPaths := map[string]bool{}
	for _, ctr := range containers {
		ids[ctr.ID()] = true
		labels, err := ctr.Labels(ctx)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("labels of %s: %w", ctr.ID(), err))...)
		}
		if p := labels[labelNetns]; p != "" {
			nsPaths[filepath.Clean(p)] = true
		}
	}
	errs = append(errs, c.removeWorkspaceSnapshots(ctx), c.removeOrphanNetns(nsPaths), c.releaseOrphanIPs(ids),
		c.logs.ForgetOthers(func(id string) bool { return ids[id] }))
	return errors.Join(errs...)
}

// removeTemps unmounts what is mounted under tmpDir, deepest first, and
// removes what is in it. An entry that stays mounted is left whole: its
// files are a snapshot's, not a temp's.
func (c *Containerd) removeTemps() error {
	dir := c.tmpDir()
	entries, err := readDirIfAny(dir)
	if err != nil {
		return err
	}
	var errs []error
	mounted, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, m := range mounted {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	still, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if slices.ContainsFunc(still, func(m string) bool { return m == p || strings.HasPrefix(m, p+"/") }) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, fmt.Errorf("list mounts under %s: %w", dir, err)
	}
	var out []string
	for _, m := range infos {
		if m.Mountpoint != dir {
			out = append(out, m.Mountpoint)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, nil
}

// workspaceKey prefixes the snapshot keys of build workspaces (Prepare).
const workspaceKey = "pier-build-"

// removeWorkspaceSnapshots removes the active snapshots of build
// workspaces: no build outlives the daemon that ran it.
func (c *Containerd) removeWorkspaceSnapshots(ctx context.Context) error {
	sn := c.client.SnapshotService(c.cfg.Snapshotter)
	var keys []string
	err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind == snapshots.KindActive && strings.HasPrefix(info.Name, workspaceKey) {
			keys = append(keys, info.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	var errs []error
	for _, k := range keys {
		if err := sn.Remove(ctx, k); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// removeOrphanNetns removes the network namespaces under NetnsDir that no
// container names (inUse): their container was never made, or went
// without its namespace. Removing one takes its end of the veth with it.
func (c *Containerd) removeOrphanNetns(inUse map[string]bool) error {
	dir := c.net.cfg.NetnsDir
	entries, err := readDirIfAny(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if inUse[p] {
			continue
		}
		if err := netns.LoadNetNS(p).Remove(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove network namespace %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// releaseOrphanIPs releases the host-local IPAM allocations of pier's
// network held by containers that do not exist (ids are those that do).
// Each allocation is a file named for its address holding the ID.
func (c *Containerd) releaseOrphanIPs(ids map[string]bool) error {
	dir := filepath.Join(c.net.cfg.StateDir, c.net.cfg.Name)
	entries, err := readDirIfAny(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.Contains(e.Name(), ".") || strings.HasPrefix(e.Name(), "last_reserved_ip") || e.Name() == "lock" {
			continue
		}
		p := filepath.Join(dir, e.Name())
		id, err := allocationOwner(p)
		if err != nil || id == "" || ids[id] {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("release %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// allocationOwner is the container ID an IPAM allocation file names: its
// first line.
func allocationOwner(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 512), 512)
	if !s.Scan() {
		return "", s.Err()
	}
	return strings.TrimSpace(s.Text()), nil
}

// RemoveOrphanImages removes the app images pier built that are not in
// kept, and the dependency layers of apps not in apps. Other images (bases,
// what a user imported) are never touched. Call it on start, before
// anything builds: an image being built is in neither.
func (c *Containerd) RemoveOrphanImages(ctx context.Context, kept, apps map[string]bool) error {
	list, err := c.client.ImageService().List(c.ctx(ctx))
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	var errs []error
	for _, img := range list {
		switch {
		case strings.HasPrefix(img.Name, AppImagePrefix) && !kept[img.Name]:
			errs = append(errs, c.RemoveImage(ctx, img.Name))
		case strings.HasPrefix(img.Name, DepsImagePrefix):
			name, _, _ := strings.Cut(strings.TrimPrefix(img.Name, DepsImagePrefix), ":")
			if !apps[name] {
				errs = append(errs, c.PruneDepsImages(ctx, name, ""))
			}
		}
	}
	return errors.Join(errs...)
}

// readDirIfAny is os.ReadDir, with no entries and no error for a
// directory that does not exist (nothing was ever made there).
func readDirIfAny(dir string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"pier/app"
	"pier/appdirs"
)

var _ app.Files = (*Containerd)(nil)

func (c *Containerd) volumeDirs() appdirs.Dirs {
	return appdirs.Dirs{Dir: filepath.Join(c.cfg.DataDir, "volumes")}
}

// RenameFiles moves app from's logs and volumes to the name to. Call it
// only while none of from's instances run. It fails, moving nothing, if to
// has logs or volumes already. Dependency layers are a cache: from's are
// dropped (to's next build makes its own).
func (c *Containerd) RenameFiles(from, to string) error {
	if err := c.PruneDepsImages(context.Background(), from, ""); err != nil {
		return fmt.Errorf("remove the dependency layers of %s: %w", from, err)
	}
	if err := c.logs.RenameFiles(from, to); err != nil {
		return err
	}
	if err := c.volumeDirs().RenameFiles(from, to); err != nil {
		return errors.Join(err, c.logs.RenameFiles(to, from))
	}
	return nil
}

// RemoveFiles deletes app name's logs. Its volumes stay: they hold the
// user's data, which only the user deletes (storage:purge). They are set
// aside, so that a new app of the same name starts without them.
func (c *Containerd) RemoveFiles(name string) error {
	return errors.Join(c.logs.RemoveFiles(name), c.setAside(name),
		c.PruneDepsImages(context.Background(), name, ""))
}

// setAsideDir holds the volumes of destroyed apps, each in
// <app>.<UTC time of the destroy>, until storage:purge removes them.
func (c *Containerd) setAsideDir() string { return filepath.Join(c.cfg.DataDir, "volumes-destroyed") }

// setAside moves name's volumes out of the way of a new app of the same
// name: they stay on disk, listed as orphans.
func (c *Containerd) setAside(name string) error {
	src := c.volumeDirs().Path(name)
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(c.setAsideDir(), 0o700); err != nil {
		return err
	}
	dst := filepath.Join(c.setAsideDir(), name+"."+time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("set aside the volumes of %s: %w", name, err)
	}
	return nil
}

// OrphanVolumes lists the volumes no app uses: those of destroyed apps,
// and directories under volumes/ of apps that do not exist (exists says
// which do).
func (c *Containerd) OrphanVolumes(exists func(app string) bool) ([]app.OrphanVolumes, error) {
	var out []app.OrphanVolumes
	add := func(id, name, dir string, at time.Time) {
		o := app.OrphanVolumes{ID: id, App: name, Destroyed: at, Path: dir}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() {
				o.Volumes = append(o.Volumes, e.Name())
			}
		}
		o.Bytes = dirSize(dir)
		out = append(out, o)
	}
	aside, err := os.ReadDir(c.setAsideDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range aside {
		name, stamp, ok := strings.Cut(e.Name(), ".")
		at, terr := time.Parse("20060102T150405.000000000Z", stamp)
		if !ok || terr != nil || app.ValidName(name) != nil || !e.IsDir() {
			continue
		}
		add(e.Name(), name, filepath.Join(c.setAsideDir(), e.Name()), at)
	}
	live, err := os.ReadDir(c.volumeDirs().Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range live {
		if e.IsDir() && app.ValidName(e.Name()) == nil && !exists(e.Name()) {
			add(e.Name(), e.Name(), c.volumeDirs().Path(e.Name()), time.Time{})
		}
	}
	return out, nil
}

// RemoveOrphanVolumes deletes the orphaned volumes id names (an ID from
// OrphanVolumes), if they are orphans still.
func (c *Containerd) RemoveOrphanVolumes(id string, exists func(app string) bool) error {
	orphans, err := c.OrphanVolumes(exists)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		if o.ID == id {
			if err := os.RemoveAll(o.Path); err != nil {
				return fmt.Errorf("remove %s: %w", o.Path, err)
			}
			return nil
		}
	}
	return fmt.Errorf("no orphaned volumes %q (storage:list --orphans lists them): %w", id, app.ErrNotFound)
}

// dirSize sums the sizes of the files under dir, giving up (and returning
// what it has, negated) after maxSizeWalk entries.
func dirSize(dir string) int64 {
	const maxSizeWalk = 100000
	var n, seen int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > maxSizeWalk {
			n = -n
			return filepath.SkipAll
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

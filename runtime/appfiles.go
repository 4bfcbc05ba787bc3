package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"pier/app"
)

var _ app.Files = (*Containerd)(nil)

// RenameFiles moves app from's logs and volumes to the name to. Call it
// only while none of from's instances run. It fails, moving nothing, if to
// has logs or volumes already.
func (c *Containerd) RenameFiles(from, to string) error {
	if app.ValidName(from) != nil || app.ValidName(to) != nil {
		return fmt.Errorf("rename files: invalid app name %q or %q", from, to)
	}
	vols := filepath.Join(c.cfg.DataDir, "volumes")
	if err := free(filepath.Join(vols, to)); err != nil {
		return err
	}
	if err := c.logs.rename(from, to); err != nil {
		return err
	}
	if err := moveDir(filepath.Join(vols, from), filepath.Join(vols, to)); err != nil {
		if back := c.logs.rename(to, from); back != nil {
			return errors.Join(err, back)
		}
		return err
	}
	return nil
}

// RemoveFiles deletes app name's logs. Its volumes stay: they hold the
// user's data, which only the user deletes.
func (c *Containerd) RemoveFiles(name string) error {
	if app.ValidName(name) != nil {
		return fmt.Errorf("remove files: invalid app name %q", name)
	}
	return c.logs.remove(name)
}

// rename moves an app's log directory, with the collector's state of it.
func (c *collector) rename(from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := free(filepath.Join(c.dir, to)); err != nil {
		return err
	}
	if a := c.apps[from]; a != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
	}
	if err := moveDir(filepath.Join(c.dir, from), filepath.Join(c.dir, to)); err != nil {
		return err
	}
	delete(c.apps, from)
	delete(c.apps, to)
	return nil
}

// remove deletes an app's log directory and the collector's state of it.
func (c *collector) remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.apps[name]; a != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
	}
	delete(c.apps, name)
	if err := os.RemoveAll(filepath.Join(c.dir, name)); err != nil {
		return fmt.Errorf("remove logs of %s: %w", name, err)
	}
	return nil
}

// free fails if path exists.
func free(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists already: move it away first", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// moveDir renames from to to; a missing from is nothing to move.
func moveDir(from, to string) error {
	if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := free(to); err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("move %s: %w", from, err)
	}
	return nil
}

package runtime

import (
	"errors"
	"path/filepath"

	"pier/app"
)

var _ app.Files = (*Containerd)(nil)

func (c *Containerd) volumeDirs() app.AppDirs {
	return app.AppDirs{Dir: filepath.Join(c.cfg.DataDir, "volumes")}
}

// RenameFiles moves app from's logs and volumes to the name to. Call it
// only while none of from's instances run. It fails, moving nothing, if to
// has logs or volumes already.
func (c *Containerd) RenameFiles(from, to string) error {
	if err := c.logs.rename(from, to); err != nil {
		return err
	}
	if err := c.volumeDirs().RenameFiles(from, to); err != nil {
		return errors.Join(err, c.logs.rename(to, from))
	}
	return nil
}

// RemoveFiles deletes app name's logs. Its volumes stay: they hold the
// user's data, which only the user deletes.
func (c *Containerd) RemoveFiles(name string) error { return c.logs.remove(name) }

// rename moves an app's log directory, with the collector's state of it.
func (c *collector) rename(from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.apps[from]; a != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
	}
	if err := (app.AppDirs{Dir: c.dir}).RenameFiles(from, to); err != nil {
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
	return app.AppDirs{Dir: c.dir}.RemoveFiles(name)
}

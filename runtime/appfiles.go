package runtime

import (
	"errors"
	"path/filepath"

	"pier/app"
	"pier/appdirs"
)

var _ app.Files = (*Containerd)(nil)

func (c *Containerd) volumeDirs() appdirs.Dirs {
	return appdirs.Dirs{Dir: filepath.Join(c.cfg.DataDir, "volumes")}
}

// RenameFiles moves app from's logs and volumes to the name to. Call it
// only while none of from's instances run. It fails, moving nothing, if to
// has logs or volumes already.
func (c *Containerd) RenameFiles(from, to string) error {
	if err := c.logs.RenameFiles(from, to); err != nil {
		return err
	}
	if err := c.volumeDirs().RenameFiles(from, to); err != nil {
		return errors.Join(err, c.logs.RenameFiles(to, from))
	}
	return nil
}

// RemoveFiles deletes app name's logs. Its volumes stay: they hold the
// user's data, which only the user deletes.
func (c *Containerd) RemoveFiles(name string) error { return c.logs.RemoveFiles(name) }

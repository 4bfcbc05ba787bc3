// Package appdirs moves and removes what pier keeps as one directory per
// app: build caches, git repositories, volumes, logs.
package appdirs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"pier/app"
)

// Dirs is app.Files for what is kept as one directory per app,
// <Dir>/<app><Suffix>: build caches, git repositories (Suffix ".git"),
// volumes, logs. A missing directory is nothing to move or remove.
type Dirs struct{ Dir, Suffix string }

var _ app.Files = Dirs{}

// Path is app name's directory.
func (d Dirs) Path(name string) string { return filepath.Join(d.Dir, name+d.Suffix) }

// RenameFiles moves from's directory to to's; it fails, moving nothing, if
// to has one already.
func (d Dirs) RenameFiles(from, to string) error {
	if err := errors.Join(app.ValidName(from), app.ValidName(to)); err != nil {
		return err
	}
	src, dst := d.Path(from), d.Path(to)
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s exists already: move it away first", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("move %s: %w", src, err)
	}
	return nil
}

// RemoveFiles deletes name's directory.
func (d Dirs) RemoveFiles(name string) error {
	if err := app.ValidName(name); err != nil {
		return err
	}
	if err := os.RemoveAll(d.Path(name)); err != nil {
		return fmt.Errorf("remove %s: %w", d.Path(name), err)
	}
	return nil
}

package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// AppDirs is Files for what is kept as one directory per app,
// <Dir>/<app><Suffix>: build caches, git repositories (Suffix ".git"),
// volumes, logs. A missing directory is nothing to move or remove.
type AppDirs struct{ Dir, Suffix string }

var _ Files = AppDirs{}

// Path is app name's directory.
func (d AppDirs) Path(name string) string { return filepath.Join(d.Dir, name+d.Suffix) }

// RenameFiles moves from's directory to to's; it fails, moving nothing, if
// to has one already.
func (d AppDirs) RenameFiles(from, to string) error {
	if err := errors.Join(ValidName(from), ValidName(to)); err != nil {
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
func (d AppDirs) RemoveFiles(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := os.RemoveAll(d.Path(name)); err != nil {
		return fmt.Errorf("remove %s: %w", d.Path(name), err)
	}
	return nil
}

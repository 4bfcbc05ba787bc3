// Package appdirs moves and removes what pier keeps as one directory per
// app: build caches, git repositories, volumes, logs.
package appdirs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"

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
// to has one already. With no directory of from's, there is nothing to
// move (nothing was there, or it moved already): moving again is no error.
func (d Dirs) RenameFiles(from, to string) error {
	if err := errors.Join(app.ValidName(from), app.ValidName(to)); err != nil {
		return err
	}
	src, dst := d.Path(from), d.Path(to)
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s exists already: move it away first", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
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

// Texts keeps one text per app in the file <Dir>/<app>.log, such as the
// output of its last failed deploy; it moves and goes with the app.
type Texts struct{ Dirs }

// NewTexts returns the Texts kept in dir.
func NewTexts(dir string) Texts { return Texts{Dirs{Dir: dir, Suffix: ".log"}} }

// Save replaces name's text with b, whole or not at all.
func (t Texts) Save(name string, b []byte) error {
	if err := app.ValidName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(t.Dir, 0o700); err != nil {
		return err
	}
	return renameio.WriteFile(t.Path(name), b, 0o600)
}

// Load returns name's text and when it was saved; fs.ErrNotExist if
// there is none.
func (t Texts) Load(name string) ([]byte, time.Time, error) {
	if err := app.ValidName(name); err != nil {
		return nil, time.Time{}, err
	}
	f, err := os.Open(t.Path(name))
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxText))
	return b, fi.ModTime(), err
}

// maxText bounds what Load reads of a text.
const maxText = 1 << 20

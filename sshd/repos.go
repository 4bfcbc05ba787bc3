package sshd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"pier/app"
)

// Repos are the apps' bare git repositories, <Dir>/<app>.git: what a push
// creates and a fetch reads. Config.GitDir of the Server is the same Dir.
type Repos struct{ Dir string }

var _ app.Files = Repos{}

func (r Repos) path(name string) string { return filepath.Join(r.Dir, name+".git") }

// RenameFiles moves app from's repository to the name to, so the next
// push to the new name continues its history. It fails if to has one.
func (r Repos) RenameFiles(from, to string) error {
	if app.ValidName(from) != nil || app.ValidName(to) != nil {
		return fmt.Errorf("rename repository: invalid app name %q or %q", from, to)
	}
	if _, err := os.Lstat(r.path(from)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(r.path(to)); err == nil {
		return fmt.Errorf("a repository %s exists already: remove it first", r.path(to))
	}
	if err := os.Rename(r.path(from), r.path(to)); err != nil {
		return fmt.Errorf("move repository: %w", err)
	}
	return nil
}

// RemoveFiles deletes app name's repository.
func (r Repos) RemoveFiles(name string) error {
	if err := app.ValidName(name); err != nil {
		return err
	}
	if err := os.RemoveAll(r.path(name)); err != nil {
		return fmt.Errorf("remove repository: %w", err)
	}
	return nil
}

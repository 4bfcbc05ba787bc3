package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"pier/app"
)

var _ app.Files = (*Builder)(nil)

// RenameFiles moves app from's build cache to the name to. The caller
// serializes it with the app's builds. It fails if to has a cache already.
func (b *Builder) RenameFiles(from, to string) error {
	src, dst, err := b.cacheDir(from), b.cacheDir(to), validNames(from, to)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("build cache %s exists already: remove it first", dst)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("move build cache: %w", err)
	}
	return nil
}

// RemoveFiles deletes app name's build cache.
func (b *Builder) RemoveFiles(name string) error {
	if err := validNames(name); err != nil {
		return err
	}
	if err := os.RemoveAll(b.cacheDir(name)); err != nil {
		return fmt.Errorf("remove build cache: %w", err)
	}
	return nil
}

func (b *Builder) cacheDir(app string) string { return filepath.Join(b.cfg.CacheDir, app) }

func validNames(names ...string) error {
	for _, n := range names {
		if err := app.ValidName(n); err != nil {
			return err
		}
	}
	return nil
}

package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ReadSourceFile reads a file of pushed source: dir/name, at most max bytes.
// It returns ok=false when there is no such file. The file may be a symlink
// only to a file inside dir (os.Root), so a pushed repository cannot make
// pier read, and echo back in an error, a file of the host.
func ReadSourceFile(dir, name string, max int64) (b []byte, ok bool, err error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	defer root.Close()
	fi, err := root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: cannot be read (a link out of the repository?)", name)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s: not a regular file", name)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	b, err = io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, false, fmt.Errorf("%s: file is larger than %d KiB", name, max>>10)
	}
	return b, true, nil
}

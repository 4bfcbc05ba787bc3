package runtime_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"pier/runtime"
)

// TestOwn: a directory made for one user (the shared app user of older
// pier) becomes the app's, inside included, without following a link out.
func TestOwn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	outside := filepath.Join(t.TempDir(), "host-file")
	for _, p := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.Mkdir(p, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, runtime.AppUID, runtime.AppGID) })

	if err := runtime.Own(dir, 70005, 70005); err != nil {
		t.Fatal(err)
	}
	owner := func(p string) uint32 {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	for _, p := range []string{dir, filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "f"), filepath.Join(dir, "link")} {
		if u := owner(p); u != 70005 {
			t.Errorf("%s belongs to %d, want 70005", p, u)
		}
	}
	if u := owner(outside); u != 0 {
		t.Errorf("the file the link points to belongs to %d now: the link was followed", u)
	}
}

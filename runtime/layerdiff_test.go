package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"pier/builder"
	"pier/runtime"
	"pier/runtime/runtimetest"
)

// TestLayerFromUpperDir commits a build that adds, changes and removes files
// of the base and replaces one of its directories, and reads the image back:
// the layer written from the overlay's upper directory alone must say all of
// it, whiteouts included.
func TestLayerFromUpperDir(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	ws, err := rt.Prepare(ctx, builder.DefaultBase, func(root string) error {
		for _, step := range []func() error{
			func() error { return os.MkdirAll(filepath.Join(root, "app", "deep", "er"), 0o755) },
			func() error {
				return os.WriteFile(filepath.Join(root, "app", "deep", "er", "new.txt"), []byte("new"), 0o644)
			},
			func() error {
				return os.WriteFile(filepath.Join(root, "etc", "debian_version"), []byte("changed"), 0o644)
			},
			func() error { return os.Remove(filepath.Join(root, "etc", "hostname")) },
			func() error { return os.RemoveAll(filepath.Join(root, "etc", "apt")) },
			func() error { return os.MkdirAll(filepath.Join(root, "etc", "apt"), 0o755) },
			func() error {
				return os.WriteFile(filepath.Join(root, "etc", "apt", "only.txt"), []byte("only"), 0o644)
			},
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := runtime.AppImagePrefix + "layered:1"
	if err := ws.Commit(ctx, ref, runtime.ImageConfig{WorkingDir: "/app"}); err != nil {
		t.Fatal(err)
	}

	check, err := rt.Prepare(ctx, ref, func(root string) error {
		read := func(p string) string {
			b, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				return "error: " + err.Error()
			}
			return string(b)
		}
		for p, want := range map[string]string{"app/deep/er/new.txt": "new", "etc/debian_version": "changed", "etc/apt/only.txt": "only"} {
			if got := read(p); got != want {
				t.Errorf("%s: got %q, want %q", p, got, want)
			}
		}
		if _, err := os.Lstat(filepath.Join(root, "etc", "hostname")); !os.IsNotExist(err) {
			t.Errorf("a removed file is back in the image: %v", err)
		}
		entries, err := os.ReadDir(filepath.Join(root, "etc", "apt"))
		if err != nil || len(entries) != 1 {
			t.Errorf("a replaced directory kept the base's entries: %v %v", entries, err)
		}
		if _, err := os.Stat(filepath.Join(root, "usr", "bin", "python3")); err != nil {
			t.Errorf("the base is missing under the layer: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check.Discard(ctx)
}

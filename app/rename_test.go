package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pier/app"
	"pier/appdirs"
	"pier/node"
	"pier/router"
	"pier/store"
)

// noInstances is a runtime with nothing running; an app never deployed
// needs no more of it.
type noInstances struct{ node.Runtime }

func (noInstances) AppInstances(context.Context, string) ([]app.Instance, error) { return nil, nil }

// failingFiles refuses to move anything.
type failingFiles struct{}

func (failingFiles) RenameFiles(from, to string) error { return errors.New("disk on fire") }
func (failingFiles) RemoveFiles(string) error          { return nil }

// A rename that fails on the way leaves the app under its old name, with
// its files where they were; one that succeeds moves them.
func TestRenameFailsWhole(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	repos := appdirs.Dirs{Dir: t.TempDir(), Suffix: ".git"}
	if err := os.MkdirAll(filepath.Join(repos.Dir, "hello.git"), 0o700); err != nil {
		t.Fatal(err)
	}
	deps := func(files ...app.Files) app.Deps {
		act := node.New(node.Settings{}, node.Deps{Store: st, Runtime: noInstances{}, Routes: router.New(router.Config{Log: log}), Log: log})
		return app.Deps{Store: st, Node: act, Log: log, Files: files}
	}
	svc := app.New(app.Settings{}, deps(repos, failingFiles{}))
	for _, name := range []string{"hello", "taken"} {
		if _, err := svc.CreateApp(ctx, name); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct{ name, to, want string }{
		{"a part cannot move its files", "greeter", "disk on fire"},
		{"the new name is taken", "taken", "exists already"},
		{"the same name", "hello", "already called"},
		{"the reserved name", app.ReservedName, "reserved"},
		{"an invalid name", "Greeter", "invalid"},
	} {
		if err := svc.Rename(ctx, "hello", tc.to, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
		if _, err := svc.App(ctx, "hello"); err != nil {
			t.Fatalf("%s: hello after the failed rename: %v", tc.name, err)
		}
		if _, err := os.Stat(filepath.Join(repos.Dir, "hello.git")); err != nil {
			t.Fatalf("%s: the repository did not stay: %v", tc.name, err)
		}
	}

	svc = app.New(app.Settings{}, deps(repos))
	if err := svc.Rename(ctx, "hello", "greeter", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.App(ctx, "hello"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("the old name after the rename: %v", err)
	}
	if _, err := os.Stat(filepath.Join(repos.Dir, "greeter.git")); err != nil {
		t.Errorf("the repository did not move: %v", err)
	}
}

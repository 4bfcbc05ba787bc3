package app_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
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
	st := openStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	repos := appdirs.Dirs{Dir: t.TempDir(), Suffix: ".git"}
	if err := os.MkdirAll(filepath.Join(repos.Dir, "hello.git"), 0o700); err != nil {
		t.Fatal(err)
	}
	deps := func(files ...app.Files) app.Deps {
		act := node.New(node.Settings{}, node.Deps{Store: st, Runtime: noInstances{}, Routes: router.New(router.Config{Log: log}), Log: log})
		return app.Deps{Store: st, Node: act, Log: log, Files: files, Renames: st}
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
		if rs, err := st.Renames(ctx); err != nil || len(rs) != 0 {
			t.Errorf("%s: the journal holds %v, %v after the failed rename", tc.name, rs, err)
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

// A rename stopped after any of its steps, as a crash would stop it, is
// finished on start: the app ends whole under its new name, its record
// and every part's files, and a second start finds nothing to do.
func TestRenameCrashFinishedOnStart(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for n := 0; ; n++ {
		st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
		if err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		parts := []appdirs.Dirs{
			{Dir: filepath.Join(root, "cache")},
			{Dir: filepath.Join(root, "git"), Suffix: ".git"},
			appdirs.NewTexts(filepath.Join(root, "failed")).Dirs,
		}
		var files []app.Files
		for _, d := range parts {
			files = append(files, d)
		}
		start := func() *app.Service {
			act := node.New(node.Settings{}, node.Deps{Store: st, Runtime: noInstances{}, Routes: router.New(router.Config{Log: log}), Log: log})
			return app.New(app.Settings{}, app.Deps{Store: st, Node: act, Log: log, Files: files, Renames: st})
		}
		svc := start()
		if _, err := svc.CreateApp(ctx, "hello"); err != nil {
			t.Fatal(err)
		}
		for _, d := range parts {
			if err := os.MkdirAll(d.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(d.Path("hello"), []byte("mine"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		steps := app.RenameSteps(svc)
		if n >= steps {
			st.Close()
			return
		}
		app.StopRenameAfter(svc, n)
		if err := svc.Rename(ctx, "hello", "greeter", nil); err == nil {
			t.Fatalf("step %d: the rename did not stop", n)
		}

		// pier starts again.
		for range 2 {
			svc = start()
			if err := svc.FinishRenames(ctx); err != nil {
				t.Fatalf("step %d: %v", n, err)
			}
			if _, err := svc.App(ctx, "hello"); !errors.Is(err, app.ErrNotFound) {
				t.Errorf("step %d: hello after the start: %v", n, err)
			}
			if _, err := svc.App(ctx, "greeter"); err != nil {
				t.Errorf("step %d: greeter after the start: %v", n, err)
			}
			for _, d := range parts {
				if _, err := os.Stat(d.Path("hello")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("step %d: %s is left: %v", n, d.Path("hello"), err)
				}
				if b, err := os.ReadFile(d.Path("greeter")); err != nil || string(b) != "mine" {
					t.Errorf("step %d: %s holds %q, %v; want the app's file", n, d.Path("greeter"), b, err)
				}
			}
			if rs, err := st.Renames(ctx); err != nil || len(rs) != 0 {
				t.Errorf("step %d: the journal holds %v, %v after the start", n, rs, err)
			}
		}
		st.Close()
	}
}

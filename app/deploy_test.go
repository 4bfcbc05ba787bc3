package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"pier/app"
	"pier/store"
)

// oneImage builds every push into the same image, with no processes of
// its own: the Procfile says what runs.
type oneImage struct{}

func (oneImage) Build(context.Context, app.BuildRequest) (app.Build, error) {
	return app.Build{Image: "pier/apps/hello:1", Stack: "procfile"}, nil
}

// checkedNode stands in for the node where processes can't run: an
// activation passes its checks (and is recorded) or fails them, as
// healthy says.
type checkedNode struct {
	app.Node
	healthy bool
	late    bool // the checks fail after the record (the route did not move)
	mu      sync.Mutex
}

func (n *checkedNode) Lock(string) func()                     { n.mu.Lock(); return n.mu.Unlock }
func (n *checkedNode) Sync(context.Context) error             { return nil }
func (n *checkedNode) RemoveImage(string)                     {}
func (n *checkedNode) Converge(context.Context, string) error { return nil }
func (n *checkedNode) Activate(ctx context.Context, a app.App, rel app.Release, act app.Activation) error {
	if !n.healthy {
		return errors.New("v2 did not become ready")
	}
	if act.Record != nil {
		if err := act.Record(ctx); err != nil {
			return err
		}
	}
	if n.late {
		return errors.New("route hello to the files of v2: no such directory")
	}
	return nil
}

// refusingStore fails every PutRelease while refuse is set, as a store
// whose disk filled or whose pusher hung up right after the checks.
type refusingStore struct {
	*store.Store
	refuse bool
}

func (s *refusingStore) Apply(ctx context.Context, c app.Change) error {
	if _, ok := c.(app.PutRelease); ok && s.refuse {
		return errors.New("disk full")
	}
	return s.Store.Apply(ctx, c)
}

// A deploy that fails keeps none of its formation: app.json's formation
// lands with the release or not at all, whether the checks fail or the
// release cannot be recorded once they passed.
func TestFailedDeployKeepsNoFormation(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	push := func(t *testing.T, svc *app.Service, name string, files map[string]string) error {
		dir := t.TempDir()
		for f, body := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := svc.Deploy(ctx, app.DeployRequest{App: name, Dir: dir, Commit: "abc"})
		return err
	}
	v1 := map[string]string{"Procfile": "web: serve\n"}
	v2 := map[string]string{
		"Procfile": "web: serve\nworker: work\n",
		"app.json": `{"formation": {"web": {"quantity": 2}, "worker": {"quantity": 3}}}`,
	}
	for _, tc := range []struct {
		name    string
		healthy bool // the checks pass
		refuse  bool // the store refuses the release
		late    bool // the checks fail after the record
	}{
		{"the checks fail", false, false, false},
		{"the release is not recorded", true, true, false},
		{"the checks fail after the record", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := &refusingStore{Store: st}
			node := &checkedNode{healthy: true}
			svc := app.New(app.Settings{}, app.Deps{Store: rs, Node: node, Builder: oneImage{}, Log: log})
			name := map[string]string{
				"the checks fail": "checks", "the release is not recorded": "record",
				"the checks fail after the record": "late",
			}[tc.name]
			for _, first := range []bool{true, false} {
				// The first push of an app, then one of an app that runs.
				if !first {
					if err := push(t, svc, name, v1); err != nil {
						t.Fatal(err)
					}
				}
				before, err := svc.App(ctx, name)
				if first && err == nil {
					t.Fatalf("%s exists before its first push", name)
				}
				node.healthy, rs.refuse, node.late = tc.healthy, tc.refuse, tc.late
				if err := push(t, svc, name, v2); err == nil {
					t.Fatal("the push succeeded")
				}
				node.healthy, rs.refuse, node.late = true, false, false
				after, err := svc.App(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if tc.late {
					// The release stays recorded (its route failed to
					// move); the formation is the one that serves.
					if !maps.Equal(after.Formation, before.Formation) {
						t.Errorf("first push %v: after the failed push the formation is %v, want %v",
							first, after.Formation, before.Formation)
					}
					continue
				}
				if after.Release != before.Release || !maps.Equal(after.Formation, before.Formation) {
					t.Errorf("first push %v: after the failed push v%d with formation %v, want v%d with %v",
						first, after.Release, after.Formation, before.Release, before.Formation)
				}
			}
			// A push that passes records its formation with its release.
			if err := push(t, svc, name, v2); err != nil {
				t.Fatal(err)
			}
			a, err := svc.App(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{"web": 1, "worker": 3}; !maps.Equal(a.Formation, want) {
				t.Errorf("after a good push the formation is %v, want %v", a.Formation, want)
			}
		})
	}
}

// Start-up keeps the images of every kept release of every app, and the
// apps' names for their dependency layers.
func TestKeptImages(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	for _, c := range []app.Change{
		app.CreateApp{App: app.App{Name: "hello"}},
		app.CreateApp{App: app.App{Name: "empty"}},
		app.PutRelease{Release: app.Release{App: "hello", Version: 1, Image: "pier/apps/hello:1"}},
		app.PutRelease{Release: app.Release{App: "hello", Version: 2, Image: "pier/apps/hello:2"}},
	} {
		if err := st.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	svc := app.New(app.Settings{}, app.Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	images, apps, err := svc.KeptImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"pier/apps/hello:1": true, "pier/apps/hello:2": true}; !maps.Equal(images, want) {
		t.Errorf("images: got %v, want %v", images, want)
	}
	if want := map[string]bool{"hello": true, "empty": true}; !maps.Equal(apps, want) {
		t.Errorf("apps: got %v, want %v", apps, want)
	}
}

package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"pier/app"
	"pier/node"
	"pier/router"
)

// noStarts is a runtime with nothing running that fails the test if an
// instance is started.
type noStarts struct {
	noInstances
	t *testing.T
}

func (r noStarts) Start(ctx context.Context, in app.Instance) (app.Instance, error) {
	r.t.Errorf("instance %s of %s started past the cap", in.Process, in.App)
	return app.Instance{}, errors.New("refused by the test")
}

// TestScalePastMachineCap checks that one app cannot scale itself past
// the instances the machine runs in all: ps:scale past --max-instances
// is refused before anything changes, with the cap, the total and the
// setting in the message, and a rollback to a release whose formation
// is past it is refused the same way.
func TestScalePastMachineCap(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Five apps of 2 workers each: 10 instances, the cap.
	for i := range 5 {
		name := fmt.Sprintf("app%d", i)
		for _, c := range []app.Change{
			app.CreateApp{App: app.App{Name: name, CreatedAt: time.Now()}},
			app.PutRelease{Release: app.Release{App: name, Version: 1, Image: "img", Processes: map[string]string{"worker": "x"}, CreatedAt: time.Now()}},
			app.SetFormation{App: name, Formation: map[string]int{"worker": 2}},
		} {
			if err := st.Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	act := node.New(node.Settings{}, node.Deps{Store: st, Runtime: noStarts{t: t}, Routes: router.New(router.Config{Log: log}), Log: log})
	svc := app.New(app.Settings{MaxInstances: 10}, app.Deps{Store: st, Node: act, Log: log})

	err := svc.Scale(ctx, "app0", map[string]int{"worker": 20})
	want := "app0 at worker=20 would take the instances of all apps from 10 to 28, past the machine's cap of 10 (pier serve --max-instances raises it); nothing was changed"
	if err == nil || err.Error() != want {
		t.Fatalf("ps:scale past the cap: got %v, want %q", err, want)
	}
	a, err := st.App(ctx, "app0")
	if err != nil || !maps.Equal(a.Formation, map[string]int{"worker": 2}) {
		t.Fatalf("formation after the refusal: got %v, %v; want worker=2", a.Formation, err)
	}

	// A release recorded with a larger formation cannot come back either.
	rel := app.Release{App: "app1", Version: 2, Image: "img", Processes: map[string]string{"worker": "x", "web": "y"},
		Manifest: app.Manifest{Formation: map[string]int{"web": 20}}, CreatedAt: time.Now()}
	if err := st.Apply(ctx, app.PutRelease{Release: rel}); err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(ctx, app.PutRelease{Release: app.Release{App: "app1", Version: 3, Image: "img", Processes: map[string]string{"worker": "x"}, CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Rollback(ctx, "app1", 2, "", nil)
	if err == nil || !strings.Contains(err.Error(), "app1 at web=20 worker=2 would take the instances of all apps from 10 to 30") || !strings.Contains(err.Error(), "--max-instances") {
		t.Fatalf("rollback past the cap: got %v, want a refusal naming the cap", err)
	}
}

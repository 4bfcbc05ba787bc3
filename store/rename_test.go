package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"pier/app"
)

func TestRenameApp(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustApply(t, s,
		app.CreateApp{App: app.App{Name: "hello", CreatedAt: t0}},
		app.CreateApp{App: app.App{Name: "other", CreatedAt: t0}},
		app.PutRelease{Release: release("hello", 1)},
		app.PutRelease{Release: release("hello", 2)},
		app.AddDomain{App: "hello", Domain: "www.example.com"},
		app.SetCronSuspended{App: "hello", IDs: []string{"nightly"}},
		app.AddKey{Key: app.Key{Name: "ci", Fingerprint: "SHA256:ci", PublicKey: "ssh-ed25519 AAAAci", App: "hello", CreatedAt: t0}},
	)
	if _, err := s.StartCronRun(ctx, app.CronRun{App: "hello", Entry: "nightly", Command: "x", Trigger: app.TriggerManual,
		Scheduled: t0, Started: t0, ExitCode: -1, Status: app.RunRunning}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, app.Event{At: t0, Who: "root", App: "hello", Action: "config:set"}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name     string
		from, to string
		want     error
	}{
		{"to a taken name", "hello", "other", app.ErrExists},
		{"a missing app", "nope", "greeter", app.ErrNotFound},
	} {
		if err := s.Apply(ctx, app.RenameApp{From: tt.from, To: tt.to}); !errors.Is(err, tt.want) {
			t.Fatalf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	if a, err := s.App(ctx, "hello"); err != nil || a.Release != 2 {
		t.Fatalf("after failed renames, hello: %+v, %v", a, err)
	}

	mustApply(t, s, app.RenameApp{From: "hello", To: "greeter"})
	if _, err := s.App(ctx, "hello"); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("the old name: %v, want ErrNotFound", err)
	}
	a, err := s.App(ctx, "greeter")
	if err != nil || a.Release != 2 || !slices.Equal(a.Domains, []string{"www.example.com"}) {
		t.Fatalf("greeter: %+v, %v", a, err)
	}
	if rs, err := s.Releases(ctx, "greeter"); err != nil || len(rs) != 2 || rs[0].App != "greeter" {
		t.Fatalf("releases: %+v, %v", rs, err)
	}
	if ids, err := s.CronSuspended(ctx, "greeter"); err != nil || !slices.Equal(ids, []string{"nightly"}) {
		t.Fatalf("suspended cron entries: %q, %v", ids, err)
	}
	if runs, err := s.CronRuns(ctx, "greeter", "nightly", 10); err != nil || len(runs) != 1 {
		t.Fatalf("cron runs: %+v, %v", runs, err)
	}
	if evs, err := s.Events(ctx, "greeter", 10); err != nil || len(evs) != 1 {
		t.Fatalf("events: %+v, %v", evs, err)
	}
	if k, err := s.KeyByFingerprint(ctx, "SHA256:ci"); err != nil || k.App != "greeter" {
		t.Fatalf("a key limited to the app: %+v, %v", k, err)
	}
	// The old name is free again, and the foreign keys hold.
	mustApply(t, s, app.CreateApp{App: app.App{Name: "hello", CreatedAt: t0}}, app.DestroyApp{Name: "greeter"})
	if rs, _ := s.Releases(ctx, "greeter"); len(rs) != 0 {
		t.Fatalf("releases of a destroyed app: %+v", rs)
	}
}

// The rename journal holds one rename per name until it ends, with the
// last step done.
func TestRenameJournal(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var _ app.RenameJournal = s
	if err := s.BeginRename(ctx, "hello", "greeter"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"the same rename", "hello", "greeter"},
		{"the old name again", "hello", "other"},
		{"the new name again", "other", "greeter"},
		{"the new name renamed", "greeter", "other"},
		{"to the old name", "other", "hello"},
	} {
		if err := s.BeginRename(ctx, tc.from, tc.to); !errors.Is(err, app.ErrExists) {
			t.Errorf("%s: got %v, want %q", tc.name, err, app.ErrExists)
		}
	}
	if err := s.SetRenameStep(ctx, "hello", 3); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Renames(ctx)
	if want := []app.RenameIntent{{From: "hello", To: "greeter", Step: 3}}; err != nil || !slices.Equal(rs, want) {
		t.Errorf("got %v, %v; want %v", rs, err, want)
	}
	for range 2 { // ending twice is no error
		if err := s.EndRename(ctx, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	if rs, err := s.Renames(ctx); err != nil || len(rs) != 0 {
		t.Errorf("after the end: got %v, %v", rs, err)
	}
}

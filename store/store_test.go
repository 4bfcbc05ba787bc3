package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"pier/app"
)

// t0 has nanoseconds and a non-UTC zone, to check times round-trip exactly.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustApply(t *testing.T, s *Store, changes ...app.Change) {
	t.Helper()
	for _, c := range changes {
		if err := s.Apply(context.Background(), c); err != nil {
			t.Fatalf("apply %T: %v", c, err)
		}
	}
}

func release(name string, version int) app.Release {
	return app.Release{
		App: name, Version: version,
		Image:     fmt.Sprintf("pier/%s:v%d", name, version),
		Stack:     "node",
		Commit:    "0123456789abcdef0123456789abcdef01234567",
		Processes: map[string]string{"web": "npm start", "worker": "node worker.js --queue 'a b'"},
		Config:    map[string]string{"GREETING": fmt.Sprintf("hi %d", version)},
		Manifest: app.Manifest{
			Healthchecks: map[string][]app.HealthCheck{"web": {{Type: "startup", Path: "/health", Attempts: 3, Wait: 5, Timeout: 5}}},
			Formation:    map[string]int{"web": 2},
			Env:          map[string]app.EnvVar{"SECRET": {Generator: "secret"}},
			Pier:         app.PierSettings{MemoryMiB: 512, CPU: 0.5},
		},
		Description: fmt.Sprintf("deploy v%d", version),
		CreatedBy:   "alice",
		CreatedAt:   t0.Add(time.Duration(version) * time.Second),
	}
}

func TestOpenMigratesIdempotently(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "pier.db")
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	want := ms[len(ms)-1].version

	for i := range 3 {
		s, err := Open(path)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		got, err := s.schemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("open #%d: schema version %d, want %d", i, got, want)
		}
		var rows int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(ms) {
			t.Errorf("open #%d: %d schema_migrations rows, want %d", i, rows, len(ms))
		}
		if i == 0 {
			mustApply(t, s, app.CreateApp{App: app.App{Name: "kept", CreatedAt: t0}})
		}
		if _, err := s.App(ctx, "kept"); err != nil {
			t.Errorf("open #%d: %v", i, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("open of a newer schema succeeded, want error")
	}
}

func TestPragmas(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	// Hold several connections at once so the pool has to open new ones.
	var conns []interface{ Close() error }
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		tests := []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"synchronous", "1"}, // NORMAL
			{"busy_timeout", "5000"},
		}
		for _, tt := range tests {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("connection %d: %s = %q, want %q", len(conns), tt.pragma, got, tt.want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestApps(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()

	if apps, err := s.Apps(ctx); err != nil || len(apps) != 0 {
		t.Fatalf("Apps on empty store = %v, %v; want none", apps, err)
	}
	for _, name := range []string{"zeta", "alpha", "mid"} {
		mustApply(t, s, app.CreateApp{App: app.App{Name: name, CreatedAt: t0}})
	}

	tests := []struct {
		name    string
		change  app.Change
		wantErr error
	}{
		{"duplicate app", app.CreateApp{App: app.App{Name: "alpha", CreatedAt: t0}}, app.ErrExists},
		{"release of missing app", app.PutRelease{Release: release("ghost", 1)}, app.ErrNotFound},
		{"remove missing key", app.RemoveKey{Name: "nobody"}, app.ErrNotFound},
		{"nil change", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Apply(ctx, tt.change)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %q, want %q", err, tt.wantErr)
			}
			if tt.wantErr == nil && (errors.Is(err, app.ErrExists) || errors.Is(err, app.ErrNotFound)) {
				t.Errorf("got sentinel %q, want a plain error", err)
			}
		})
	}

	got, err := s.App(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "alpha" || got.Release != 0 || !got.CreatedAt.Equal(t0) {
		t.Errorf("got %+v, want alpha, release 0, created %v", got, t0)
	}
	if _, err := s.App(ctx, "ghost"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("App(ghost): got %v, want %q", err, app.ErrNotFound)
	}

	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	if want := []string{"alpha", "mid", "zeta"}; !reflect.DeepEqual(names, want) {
		t.Errorf("got %q, want %q", names, want)
	}
}

func TestReleases(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustApply(t, s,
		app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}},
		app.CreateApp{App: app.App{Name: "other", CreatedAt: t0}},
	)
	for _, v := range []int{1, 3, 2} {
		mustApply(t, s, app.PutRelease{Release: release("web", v)})
	}
	mustApply(t, s, app.PutRelease{Release: release("other", 7)})

	a, err := s.App(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if a.Release != 2 {
		t.Errorf("current release: got %d, want %d (the last put)", a.Release, 2)
	}

	rs, err := s.Releases(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for _, r := range rs {
		versions = append(versions, r.Version)
	}
	if want := []int{3, 2, 1}; !reflect.DeepEqual(versions, want) {
		t.Errorf("got versions %v, want %v", versions, want)
	}

	got, err := s.Release(ctx, "web", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := release("web", 3)
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("created: got %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	notFound := []struct {
		name    string
		app     string
		version int
	}{
		{"missing version", "web", 9},
		{"missing app", "ghost", 1},
		{"version of another app", "web", 7},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Release(ctx, tt.app, tt.version); !errors.Is(err, app.ErrNotFound) {
				t.Errorf("got %v, want %q", err, app.ErrNotFound)
			}
		})
	}
	if rs, err := s.Releases(ctx, "ghost"); err != nil || len(rs) != 0 {
		t.Errorf("Releases(ghost) = %v, %v; want none", rs, err)
	}
}

// A static site's release keeps its directory, and the app says it is a
// static site while that release is current.
func TestStaticRelease(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustApply(t, s, app.CreateApp{App: app.App{Name: "site", CreatedAt: t0}})
	if a, _ := s.App(ctx, "site"); a.Static {
		t.Error("an app never deployed is a static site")
	}
	static := release("site", 1)
	static.Stack, static.Static, static.Processes = "static", "/app/dist", map[string]string{}
	mustApply(t, s, app.PutRelease{Release: static})
	got, err := s.Release(ctx, "site", 1)
	if err != nil || got.Static != "/app/dist" {
		t.Fatalf("release: Static %q, %v", got.Static, err)
	}
	apps, _ := s.Apps(ctx)
	if a, _ := s.App(ctx, "site"); !a.Static || len(apps) != 1 || !apps[0].Static {
		t.Errorf("App.Static %v, Apps()[0].Static %v; want true", a.Static, apps)
	}
	mustApply(t, s, app.PutRelease{Release: release("site", 2)})
	if a, _ := s.App(ctx, "site"); a.Static {
		t.Error("App.Static after a release with a web process")
	}
	static.Version = 3
	mustApply(t, s, app.PutRelease{Release: static})
	if a, _ := s.App(ctx, "site"); !a.Static {
		t.Error("App.Static false after rolling back to a static release")
	}
}

func TestPutReleaseAtomic(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustApply(t, s,
		app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}},
		app.PutRelease{Release: release("web", 1)},
		app.PutRelease{Release: release("web", 2)},
	)

	// Version 1 exists: the update of apps.release runs, the insert fails,
	// and the whole change must roll back.
	dup := release("web", 1)
	dup.Image = "pier/web:other"
	if err := s.Apply(ctx, app.PutRelease{Release: dup}); !errors.Is(err, app.ErrExists) {
		t.Fatalf("got %v, want %q", err, app.ErrExists)
	}
	a, err := s.App(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if a.Release != 2 {
		t.Errorf("current release after failed put: got %d, want %d", a.Release, 2)
	}
	r, err := s.Release(ctx, "web", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := release("web", 1).Image; r.Image != want {
		t.Errorf("image of v1: got %q, want %q", r.Image, want)
	}
}

// A release's formation lands with it, or, if the release is refused,
// not at all; a nil Formation leaves the app's as it was.
func TestPutReleaseFormation(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	one := map[string]int{"web": 1}
	mustApply(t, s,
		app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}},
		app.SetFormation{App: "web", Formation: one},
		app.PutRelease{Release: release("web", 1)},
	)
	formation := func() map[string]int {
		t.Helper()
		a, err := s.App(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return a.Formation
	}
	if got := formation(); !maps.Equal(got, one) {
		t.Errorf("after a release with no formation: got %v, want %v", got, one)
	}
	more := map[string]int{"web": 2, "worker": 3}
	if err := s.Apply(ctx, app.PutRelease{Release: release("web", 1), Formation: more}); !errors.Is(err, app.ErrExists) {
		t.Fatalf("got %v, want %q", err, app.ErrExists)
	}
	if got := formation(); !maps.Equal(got, one) {
		t.Errorf("after a refused release: got %v, want %v", got, one)
	}
	mustApply(t, s, app.PutRelease{Release: release("web", 2), Formation: more})
	if got := formation(); !maps.Equal(got, more) {
		t.Errorf("after a release with its formation: got %v, want %v", got, more)
	}
}

func TestProcessesRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})

	tests := []struct {
		name  string
		procs map[string]string
		want  map[string]string
	}{
		{"nil", nil, map[string]string{}},
		{"empty", map[string]string{}, map[string]string{}},
		{"one", map[string]string{"web": "./server"}, map[string]string{"web": "./server"}},
		{
			"quotes and unicode",
			map[string]string{"web": `sh -c "echo \"hi\" && exec app"`, "wörker": "run ✓\n\t"},
			map[string]string{"web": `sh -c "echo \"hi\" && exec app"`, "wörker": "run ✓\n\t"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := release("web", i+1)
			r.Processes = tt.procs
			mustApply(t, s, app.PutRelease{Release: r})
			got, err := s.Release(ctx, "web", i+1)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Processes, tt.want) {
				t.Errorf("got %q, want %q", got.Processes, tt.want)
			}
			if got.Processes == nil {
				t.Error("got nil Processes, want a non-nil map")
			}
		})
	}
}

func TestKeys(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	key := func(name, fp string) app.Key {
		return app.Key{Name: name, Fingerprint: fp, PublicKey: "ssh-ed25519 AAAA" + name, CreatedAt: t0}
	}
	mustApply(t, s,
		app.AddKey{Key: key("bob", "SHA256:bbb")},
		app.AddKey{Key: key("alice", "SHA256:aaa")},
	)

	dups := []struct {
		name string
		key  app.Key
	}{
		{"duplicate name", key("alice", "SHA256:new")},
		{"duplicate fingerprint", key("carol", "SHA256:aaa")},
	}
	for _, tt := range dups {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Apply(ctx, app.AddKey{Key: tt.key}); !errors.Is(err, app.ErrExists) {
				t.Errorf("got %v, want %q", err, app.ErrExists)
			}
		})
	}

	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Name != "alice" || keys[1].Name != "bob" {
		t.Fatalf("got %+v, want alice then bob", keys)
	}

	got, err := s.KeyByFingerprint(ctx, "SHA256:aaa")
	if err != nil {
		t.Fatal(err)
	}
	want := key("alice", "SHA256:aaa")
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("created: got %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := s.KeyByFingerprint(ctx, "SHA256:zzz"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("got %v, want %q", err, app.ErrNotFound)
	}

	mustApply(t, s, app.RemoveKey{Name: "alice"})
	if err := s.Apply(ctx, app.RemoveKey{Name: "alice"}); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("second remove: got %v, want %q", err, app.ErrNotFound)
	}
	if _, err := s.KeyByFingerprint(ctx, "SHA256:aaa"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("removed key: got %v, want %q", err, app.ErrNotFound)
	}
	// The fingerprint is free again.
	mustApply(t, s, app.AddKey{Key: key("carol", "SHA256:aaa")})
}

// TestAppKeysGoWithApp: a key limited to an app is deleted with the app,
// and creating an app of the same name later does not bring it back; an
// admin key and a key of another app stay.
func TestAppKeysGoWithApp(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	key := func(name, fp, appName string) app.Key {
		return app.Key{Name: name, Fingerprint: fp, PublicKey: "ssh-ed25519 AAAA" + name, App: appName, CreatedAt: t0}
	}
	mustApply(t, s,
		app.CreateApp{App: app.App{Name: "hello", CreatedAt: t0}},
		app.CreateApp{App: app.App{Name: "world", CreatedAt: t0}},
		app.AddKey{Key: key("ci", "SHA256:ci", "hello")},
		app.AddKey{Key: key("deploy", "SHA256:deploy", "world")},
		app.AddKey{Key: key("admin", "SHA256:admin", "")},
	)
	if got, err := s.KeyByFingerprint(ctx, "SHA256:ci"); err != nil || got.App != "hello" {
		t.Fatalf("before destroy: got %+v, %v; want the key of hello", got, err)
	}

	mustApply(t, s, app.DestroyApp{Name: "hello"})
	if got, err := s.KeyByFingerprint(ctx, "SHA256:ci"); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("after destroy: got %+v, %v; want %q", got, err, app.ErrNotFound)
	}
	mustApply(t, s, app.CreateApp{App: app.App{Name: "hello", CreatedAt: t0}})
	if got, err := s.KeyByFingerprint(ctx, "SHA256:ci"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("after hello is created again: got %+v, %v; want %q", got, err, app.ErrNotFound)
	}
	for _, fp := range []string{"SHA256:deploy", "SHA256:admin"} {
		if _, err := s.KeyByFingerprint(ctx, fp); err != nil {
			t.Errorf("key %s: got %v, want it kept", fp, err)
		}
	}
	// The name and fingerprint are free again.
	mustApply(t, s, app.AddKey{Key: key("ci", "SHA256:ci", "hello")})
}

func TestConcurrentWriters(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})

	const writers, each = 8, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i + 1
				changes := []app.Change{
					app.PutRelease{Release: release("web", n)},
					app.AddKey{Key: app.Key{
						Name: fmt.Sprintf("key-%d", n), Fingerprint: fmt.Sprintf("SHA256:%d", n),
						PublicKey: "ssh-ed25519 AAAA", CreatedAt: t0,
					}},
				}
				for _, c := range changes {
					if err := s.Apply(ctx, c); err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("writer %d: %T: %w", w, c, err))
						mu.Unlock()
					}
				}
				if _, err := s.Releases(ctx, "web"); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("writer %d: read: %w", w, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}

	rs, err := s.Releases(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != writers*each {
		t.Errorf("got %d releases, want %d", len(rs), writers*each)
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != writers*each {
		t.Errorf("got %d keys, want %d", len(keys), writers*each)
	}
}

// Config, formation, stop state and volumes round-trip; a release's config
// becomes the app's; old releases can be forgotten.
func TestAppSettings(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.Apply(ctx, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	a, err := s.App(ctx, "web")
	if err != nil || a.Config == nil || a.Formation == nil || a.Stopped || len(a.Volumes) != 0 {
		t.Fatalf("new app: %+v %v; want empty non-nil maps, not stopped, no volumes", a, err)
	}
	changes := []app.Change{
		app.SetConfig{App: "web", Config: map[string]string{"A": "1", "B": "two words"}},
		app.SetFormation{App: "web", Formation: map[string]int{"web": 3, "worker": 1}},
		app.SetStopped{App: "web", Stopped: true},
		app.SetVolumes{App: "web", Volumes: []app.Volume{{Name: "data", Path: "/data"}}},
	}
	for _, c := range changes {
		if err := s.Apply(ctx, c); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
	}
	a, _ = s.App(ctx, "web")
	if a.Config["B"] != "two words" || a.Formation["web"] != 3 || !a.Stopped || len(a.Volumes) != 1 || a.Volumes[0].Path != "/data" {
		t.Fatalf("got %+v", a)
	}
	if err := s.Apply(ctx, app.PutRelease{Release: release("web", 1)}); err != nil {
		t.Fatal(err)
	}
	if a, _ = s.App(ctx, "web"); a.Config["GREETING"] != "hi 1" || a.Config["A"] != "" {
		t.Fatalf("after a release the app's config is %v, want the release's", a.Config)
	}
	s.Apply(ctx, app.PutRelease{Release: release("web", 2)})
	if err := s.Apply(ctx, app.DeleteReleases{App: "web", Versions: []int{1}}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.Releases(ctx, "web"); len(rs) != 1 || rs[0].Version != 2 {
		t.Fatalf("after deleting v1: %+v", rs)
	}
	for _, c := range []app.Change{app.SetConfig{App: "nope"}, app.SetStopped{App: "nope"}} {
		if err := s.Apply(ctx, c); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("%T on a missing app: got %v, want ErrNotFound", c, err)
		}
	}
}

func TestSleepColumns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.Apply(ctx, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	pol := &app.SleepPolicy{After: time.Minute, StopAfter: time.Hour}
	for _, c := range []app.Change{app.SetSleepPolicy{App: "web", Policy: pol}, app.SetSleepState{App: "web", State: app.Frozen}} {
		if err := s.Apply(ctx, c); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
	}
	a, _ := s.App(ctx, "web")
	if a.Sleep == nil || *a.Sleep != *pol || a.Asleep != app.Frozen {
		t.Fatalf("got policy %+v state %q", a.Sleep, a.Asleep)
	}
	s.Apply(ctx, app.SetSleepPolicy{App: "web"})
	if a, _ = s.App(ctx, "web"); a.Sleep != nil {
		t.Fatalf("after clearing the policy: %+v", a.Sleep)
	}
	if err := s.Apply(ctx, app.SetSleepState{App: "web", State: "dozing"}); err == nil {
		t.Fatal("an unknown sleep state was stored")
	}
}

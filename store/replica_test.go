package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// ApplyAt applies each log entry once: an entry at or below the applied
// index is skipped, across a reopen too, and a refused change records
// nothing.
func TestApplyAtIsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string) app.Change { return app.CreateApp{App: app.App{Name: name, CreatedAt: t0}} }
	steps := []struct {
		index   uint64
		change  app.Change
		applied bool
		err     error
	}{
		{3, create("first"), true, nil},
		{3, create("again"), false, nil},
		{2, create("older"), false, nil},
		{5, create("first"), false, app.ErrExists},
		{7, app.SetConfig{App: "first", Config: map[string]string{"A": "1"}}, true, nil},
	}
	for _, st := range steps {
		applied, err := s.ApplyAt(ctx, st.index, st.change)
		if applied != st.applied || !errors.Is(err, st.err) {
			t.Errorf("ApplyAt(%d, %T) = %v, %v; want %v, %v", st.index, st.change, applied, err, st.applied, st.err)
		}
	}
	if i, err := s.AppliedIndex(ctx); i != 7 || err != nil {
		t.Errorf("AppliedIndex = %d, %v; want 7", i, err)
	}
	s.Close()

	// A restart replays the log from its last snapshot.
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.Watch(wctx)
	for _, st := range steps {
		if applied, err := s.ApplyAt(ctx, st.index, st.change); applied || err != nil {
			t.Errorf("replayed ApplyAt(%d, %T) = %v, %v; want skipped", st.index, st.change, applied, err)
		}
	}
	if applied, err := s.ApplyAt(ctx, 9, app.SetStopped{App: "first", Stopped: true}); !applied || err != nil {
		t.Fatalf("ApplyAt(9) = %v, %v; want applied", applied, err)
	}
	select {
	case a := <-w:
		if got := fmt.Sprintf("%d %T", a.Index, a.Change); got != "9 app.SetStopped" {
			t.Errorf("watch got %q, want %q", got, "9 app.SetStopped")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch saw nothing")
	}
	apps, err := s.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Config["A"] != "1" || !apps[0].Stopped {
		t.Errorf("Apps = %+v, %v; want first only, configured and stopped", apps, err)
	}
}

// A snapshot restored into another store gives it the same desired state
// and applied index, leaves its own tables alone (but for the cron runs of
// apps that are gone) and tells its watchers to read everything again.
func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	src, dst := openTest(t), openTest(t)
	key := func(name, fp string) app.Key {
		return app.Key{Name: name, Fingerprint: fp, PublicKey: "ssh-ed25519 AAAA" + name, CreatedAt: t0}
	}
	mustApply(t, src,
		app.CreateApp{App: app.App{Name: "kept", CreatedAt: t0}},
		app.PutRelease{Release: release("kept", 1)},
		app.PutRelease{Release: release("kept", 2)},
		app.SetFormation{App: "kept", Formation: map[string]int{"web": 3}},
		app.AddDomain{App: "kept", Domain: "www.example.com"},
		app.SetCronSuspended{App: "kept", IDs: []string{"nightly"}},
		app.CreateApp{App: app.App{Name: "fresh", CreatedAt: t0}},
		app.AddKey{Key: key("alice", "SHA256:bbb")},
		app.AddKey{Key: key("bob", "SHA256:aaa")},
		app.SetSetting{Key: "admin_password", Value: "$2a$src"},
	)
	// dst has older, different state; its keys hold src's fingerprints the
	// other way round.
	mustApply(t, dst,
		app.CreateApp{App: app.App{Name: "kept", CreatedAt: t0.Add(time.Hour)}},
		app.PutRelease{Release: release("kept", 1)},
		app.PutRelease{Release: release("kept", 7)},
		app.CreateApp{App: app.App{Name: "gone", CreatedAt: t0}},
		app.AddDomain{App: "gone", Domain: "old.example.com"},
		app.AddKey{Key: key("alice", "SHA256:aaa")},
		app.AddKey{Key: key("bob", "SHA256:bbb")},
		app.SetSetting{Key: "admin_password", Value: "$2a$dst"},
	)
	for _, name := range []string{"kept", "gone"} {
		if _, err := dst.StartCronRun(ctx, app.CronRun{App: name, Entry: "a", Trigger: app.TriggerManual,
			Started: t0, Scheduled: t0, ExitCode: -1, Status: app.RunRunning}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.AddEvent(ctx, app.Event{At: t0, Who: "alice", App: "gone", Action: "apps:create"}); err != nil {
		t.Fatal(err)
	}
	if err := dst.Certs().Store(ctx, "certificates/x", []byte("local")); err != nil {
		t.Fatal(err)
	}
	if err := src.Certs().Store(ctx, "certificates/x", []byte("shared")); err != nil {
		t.Fatal(err)
	}

	var snap bytes.Buffer
	if err := src.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := dst.Watch(wctx)
	if err := dst.Restore(ctx, bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}

	if got, want := dumpState(t, dst), dumpState(t, src); got != want {
		t.Errorf("restored state:\n%s\nwant:\n%s", got, want)
	}
	select {
	case a := <-w:
		if _, ok := a.Change.(app.Resync); !ok || a.Index != 11 {
			t.Errorf("watch got %d %T, want 11 app.Resync", a.Index, a.Change)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch saw nothing")
	}
	if runs, err := dst.CronRuns(ctx, "kept", "", 10); err != nil || len(runs) != 1 {
		t.Errorf("cron runs of kept: %d, %v; want 1 (this machine's)", len(runs), err)
	}
	if runs, err := dst.CronRuns(ctx, "gone", "", 10); err != nil || len(runs) != 0 {
		t.Errorf("cron runs of gone: %d, %v; want none", len(runs), err)
	}
	if evs, err := dst.Events(ctx, "gone", 10); err != nil || len(evs) != 1 {
		t.Errorf("events of gone: %d, %v; want this machine's 1", len(evs), err)
	}
	if b, err := dst.Certs().Load(ctx, "certificates/x"); err != nil || string(b) != "shared" {
		t.Errorf("certificate: %q, %v; want the snapshot's", b, err)
	}
	// Restored state is the store's as any other: changes go on from it.
	mustApply(t, dst, app.PutRelease{Release: release("kept", 3)})
}

// A snapshot carries the desired state, certificates included (every
// machine of a cluster serves them), and none of this machine's own tables.
func TestSnapshotHoldsReplicatedTablesOnly(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})
	if err := s.Certs().Store(ctx, "private/key", []byte("the-private-key-bytes")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(ctx, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables string
	if err := db.QueryRow(`SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if want := "applied apps cert_locks cert_values cron_suspended domains join_tokens releases schema_migrations settings ssh_keys"; tables != want {
		t.Errorf("snapshot tables %q, want %q", tables, want)
	}
	if left, _ := filepath.Glob(filepath.Join(s.dir, ".snapshot-*")); len(left) > 0 {
		t.Errorf("scratch files left: %q", left)
	}
}

// Restore refuses what it cannot apply and then changes nothing.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	newer := openTest(t)
	mustApply(t, newer, app.CreateApp{App: app.App{Name: "future", CreatedAt: t0}})
	if _, err := newer.db.Exec(`INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	var future bytes.Buffer
	if err := newer.Snapshot(ctx, &future); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, snapshot, want string
	}{
		{"not a database", "hello, world", "not a pier snapshot"},
		{"empty", "", "not a pier snapshot"},
		{"newer schema", future.String(), "upgrade pier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustApply(t, s, app.CreateApp{App: app.App{Name: "mine", CreatedAt: t0}})
			before := dumpState(t, s)
			err := s.Restore(ctx, strings.NewReader(tt.snapshot))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
			if after := dumpState(t, s); after != before {
				t.Errorf("state changed to\n%s", after)
			}
		})
	}
}

// dumpState renders the desired state as the store reads it back.
func dumpState(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		rels, err := s.Releases(ctx, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		sus, err := s.CronSuspended(ctx, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "app %+v\n  suspended %q\n", a, sus)
		for _, r := range rels {
			fmt.Fprintf(&b, "  release %+v\n", r)
		}
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "key %+v\n", k)
	}
	pw, err := s.Setting(ctx, "admin_password")
	if err != nil && !errors.Is(err, app.ErrNotFound) {
		t.Fatal(err)
	}
	index, err := s.AppliedIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "admin_password %q\napplied %d\n", pw, index)
	return b.String()
}

// Reset empties the desired state (certificates included) and its index,
// keeps this machine's own tables, and tells watchers to read everything
// again.
func TestReset(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})
	mustApply(t, s, app.AddKey{Key: app.Key{Name: "laptop", Fingerprint: "SHA256:x", PublicKey: "ssh-ed25519 AAAA"}})
	if err := s.Certs().Store(ctx, "certificates/x.crt", []byte("cert")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.Watch(wctx)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-w:
		if _, ok := a.Change.(app.Resync); !ok || a.Index != 0 {
			t.Errorf("watch got %d %T, want 0 app.Resync", a.Index, a.Change)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch saw nothing")
	}
	apps, _ := s.Apps(ctx)
	keys, _ := s.Keys(ctx)
	if i, _ := s.AppliedIndex(ctx); len(apps) != 0 || len(keys) != 0 || i != 0 {
		t.Errorf("after Reset: %d apps, %d keys, applied index %d; want none and 0", len(apps), len(keys), i)
	}
	if b, err := s.Certs().Load(ctx, "certificates/x.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("certificate after Reset: %q, %v; want none (the cluster's come with its state)", b, err)
	}
	if applied, err := s.ApplyAt(ctx, 1, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}}); !applied || err != nil {
		t.Errorf("ApplyAt(1) after Reset = %v, %v; want applied", applied, err)
	}
}

// A release placed on machines records them with it; one recorded
// without a placement keeps the app's.
func TestReleasePlacement(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustApply(t, s, app.CreateApp{App: app.App{Name: "hello", CreatedAt: t0}},
		app.PutRelease{Release: release("hello", 1)})
	placed := func() []string {
		a, err := s.App(ctx, "hello")
		if err != nil {
			t.Fatal(err)
		}
		return a.Placement
	}
	if p := placed(); p != nil {
		t.Errorf("placement of an unplaced release: %q", p)
	}
	mustApply(t, s, app.PutRelease{Release: release("hello", 2), Placement: []string{"b"}})
	mustApply(t, s, app.PutRelease{Release: release("hello", 3)})
	if p := placed(); fmt.Sprint(p) != "[b]" {
		t.Errorf("placement = %q, want [b]", p)
	}
}

// A snapshot from a pier that kept certificates to each machine leaves
// this machine's as they are.
func TestRestoreOlderSnapshotKeepsCertificates(t *testing.T) {
	ctx := context.Background()
	src, dst := openTest(t), openTest(t)
	mustApply(t, src, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})
	if err := dst.Certs().Store(ctx, "certificates/x", []byte("local")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Snapshot(ctx, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE cert_values`, `DROP TABLE cert_locks`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(ctx, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if apps, _ := dst.Apps(ctx); len(apps) != 1 {
		t.Errorf("restored %d apps, want 1", len(apps))
	}
	if b, err := dst.Certs().Load(ctx, "certificates/x"); err != nil || string(b) != "local" {
		t.Errorf("certificate: %q, %v; want this machine's", b, err)
	}
}

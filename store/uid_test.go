package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// TestAppUIDs: every app gets a user ID of its own, which a rename keeps;
// a destroyed app's is taken again only once the range's top is used.
func TestAppUIDs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	uid := func(name string) int {
		t.Helper()
		a, err := s.App(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return a.UID
	}
	create := func(name string) error {
		return s.Apply(ctx, app.CreateApp{App: app.App{Name: name, CreatedAt: time.Now()}})
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := create(n); err != nil {
			t.Fatal(err)
		}
	}
	if uid("a") != app.FirstUID || uid("b") != app.FirstUID+1 || uid("c") != app.FirstUID+2 {
		t.Fatalf("user IDs %d %d %d, want %d and up", uid("a"), uid("b"), uid("c"), app.FirstUID)
	}
	mustApply(t, s, app.RenameApp{From: "b", To: "bee"})
	if uid("bee") != app.FirstUID+1 {
		t.Errorf("bee has %d after the rename, want %d", uid("bee"), app.FirstUID+1)
	}
	mustApply(t, s, app.DestroyApp{Name: "a"})
	if err := create("d"); err != nil {
		t.Fatal(err)
	}
	if uid("d") != app.FirstUID+3 {
		t.Errorf("d has %d, want %d (not a destroyed app's)", uid("d"), app.FirstUID+3)
	}

	// The top taken: the lowest free one, then none.
	if _, err := s.db.Exec(`UPDATE apps SET uid = ? WHERE name = 'd'`, app.LastUID); err != nil {
		t.Fatal(err)
	}
	if err := create("e"); err != nil {
		t.Fatal(err)
	}
	if uid("e") != app.FirstUID {
		t.Errorf("e has %d, want the free %d", uid("e"), app.FirstUID)
	}
	if _, err := s.db.Exec(`WITH RECURSIVE n(u) AS (SELECT ? UNION ALL SELECT u + 1 FROM n WHERE u < ?)
		INSERT INTO apps (name, created_at, uid) SELECT 'x' || u, '', u FROM n WHERE u NOT IN (SELECT uid FROM apps)`,
		app.FirstUID, app.LastUID); err != nil {
		t.Fatal(err)
	}
	if err := create("full"); err == nil || !strings.Contains(err.Error(), "no user ID left") {
		t.Errorf("create with every user ID taken: %v", err)
	}
}

// TestAppUIDMigration: apps made before user IDs get distinct ones, in
// name order, from the migration that adds them.
func TestAppUIDMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Back to the schema before user IDs, with three apps.
	now := formatTime(time.Now())
	for _, q := range []string{
		`DROP INDEX apps_uid`,
		`ALTER TABLE apps DROP COLUMN uid`,
		`DELETE FROM schema_migrations WHERE name = '0016_app_uid.sql'`,
		`INSERT INTO apps (name, created_at) VALUES ('zed', '` + now + `'), ('amy', '` + now + `'), ('mo', '` + now + `')`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	s.Close()
	s = openAt(t, path)
	apps, err := s.Apps(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range apps {
		got[a.Name] = a.UID
	}
	if got["amy"] != 70001 || got["mo"] != 70002 || got["zed"] != 70003 {
		t.Errorf("user IDs after the migration: %v", got)
	}
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

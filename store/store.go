// Package store keeps pier's desired state (apps, releases, SSH keys) in one
// SQLite file. It implements app.Store, holds the only SQL in the tree, and
// returns plain structs from package app with driver errors mapped to
// app.ErrNotFound and app.ErrExists.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"pier/app"
)

var _ app.Store = (*Store)(nil)

// Store is app.Store over SQLite. It is safe for concurrent use by multiple
// goroutines; writers wait for each other (up to busyTimeout) instead of
// failing with "database is locked". Only one process should open the file.
type Store struct {
	db  *sql.DB
	dir string // the database's directory, for snapshots' scratch files
	// applyMu orders Apply's commits, so that watchers see changes in
	// the order of their indexes.
	applyMu sync.Mutex
	feed    feed
}

// busyTimeout is how long a statement waits for another writer's lock.
const busyTimeout = 5 * time.Second

// pragmas run on every pooled connection as it opens. busy_timeout must come
// first (the driver orders it so) so the others can wait for a lock.
var pragmas = []string{
	fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
	"journal_mode(WAL)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
}

// Open opens (creating it and its parent directory if missing) the database
// at path, and migrates it to the schema this binary knows. path is a plain
// file path, not a URI, and must not contain '?'. Call Close when done.
//
// Open fails if the file was migrated by a newer pier than this one.
func Open(path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open store: invalid path %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, dir: filepath.Dir(path)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// dsn is the modernc.org/sqlite data source name for path. Transactions begin
// IMMEDIATE: a write transaction takes the write lock up front, where
// busy_timeout applies, instead of failing with SQLITE_BUSY when a deferred
// read lock cannot be upgraded under WAL.
func dsn(path string) string {
	var b strings.Builder
	b.WriteString(path)
	b.WriteString("?_txlock=immediate")
	for _, p := range pragmas {
		b.WriteString("&_pragma=")
		b.WriteString(p)
	}
	return b.String()
}

// Close closes the database. Calls after Close fail.
func (s *Store) Close() error { return s.db.Close() }

// Apply makes one change to desired state; each change is atomic, and is
// recorded with the next applied index in the same transaction. It returns
// an error wrapping app.ErrExists or app.ErrNotFound as documented on the
// change types, and an error for a change type it does not know. Once the
// change is committed, every Watch sees it.
func (s *Store) Apply(ctx context.Context, c app.Change) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("begin", err)
	}
	defer tx.Rollback()
	if err := s.apply(ctx, tx, c); err != nil {
		return err
	}
	var index uint64
	if err := tx.QueryRowContext(ctx, `UPDATE applied SET idx = idx + 1 RETURNING idx`).Scan(&index); err != nil {
		return mapErr("record applied index", err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr("commit", err)
	}
	s.feed.publish(app.Applied{Index: index, Change: c})
	return nil
}

// AppliedIndex is the index of the last change Apply recorded; 0 if none.
func (s *Store) AppliedIndex(ctx context.Context) (uint64, error) {
	var index uint64
	if err := s.db.QueryRowContext(ctx, `SELECT idx FROM applied`).Scan(&index); err != nil {
		return 0, mapErr("read applied index", err)
	}
	return index, nil
}

func (s *Store) apply(ctx context.Context, tx *sql.Tx, c app.Change) error {
	switch c := c.(type) {
	case app.CreateApp:
		return s.createApp(ctx, tx, c.App)
	case app.PutRelease:
		return s.putRelease(ctx, tx, c.Release, c.Placement, c.Formation)
	case app.AddKey:
		return s.addKey(ctx, tx, c.Key)
	case app.RemoveKey:
		return s.removeKey(ctx, tx, c.Name)
	case app.SetConfig:
		return s.setJSON(ctx, tx, "set config", c.App, "config", c.Config, "{}")
	case app.SetFormation:
		return s.setJSON(ctx, tx, "set formation", c.App, "formation", c.Formation, "{}")
	case app.SetVolumes:
		return s.setJSON(ctx, tx, "set volumes", c.App, "volumes", c.Volumes, "[]")
	case app.SetStopped:
		return s.updateApp(ctx, tx, "set stopped", c.App, "stopped", c.Stopped)
	case app.RestartApp:
		return s.restartApp(ctx, tx, c.App)
	case app.SetAppCert:
		return s.setAppCert(ctx, tx, c)
	case app.SetChecks:
		return s.setJSON(ctx, tx, "set checks", c.App, "checks", c.Checks, "{}")
	case app.SetPlacement:
		return s.setJSON(ctx, tx, "set placement", c.App, "placement", c.Nodes, "[]")
	case app.SetLimits:
		return s.setJSON(ctx, tx, "set limits", c.App, "limits", c.Limits, "{}")
	case app.DestroyApp:
		return s.destroyApp(ctx, tx, c.Name)
	case app.RenameApp:
		return s.renameApp(ctx, tx, c.From, c.To)
	case app.SetSleepPolicy:
		return s.setJSON(ctx, tx, "set sleep policy", c.App, "sleep_policy", c.Policy, "")
	case app.SetSleepState:
		return s.updateApp(ctx, tx, "set sleep state", c.App, "sleep_state", string(c.State))
	case app.SetAccess:
		return s.setJSON(ctx, tx, "set access rules", c.App, "access", c.Access, "{}")
	case app.AddDomain:
		return s.addDomain(ctx, tx, c.App, c.Domain)
	case app.RemoveDomain:
		return s.removeDomain(ctx, tx, c.App, c.Domain)
	case app.DeleteReleases:
		return s.deleteReleases(ctx, tx, c.App, c.Versions)
	case app.SetCronSuspended:
		return s.setCronSuspended(ctx, tx, c.App, c.IDs)
	case app.SetSetting:
		return s.setSetting(ctx, tx, c.Key, c.Value)
	case app.AddJoinToken:
		return s.addJoinToken(ctx, tx, c.Token)
	case app.UseJoinToken:
		return s.useJoinToken(ctx, tx, c.ID)
	case app.PutCertValue:
		return putCertValue(ctx, tx, c)
	case app.DeleteCertValue:
		return deleteCertValue(ctx, tx, c.Key)
	case app.TakeCertLock:
		return takeCertLock(ctx, tx, c)
	case app.ReleaseCertLock:
		return releaseCertLock(ctx, tx, c)
	default:
		return fmt.Errorf("apply: unknown change %T", c)
	}
}

// mapErr wraps err with step, the one place driver errors become sentinels:
// no row is app.ErrNotFound, a duplicate primary or unique key is
// app.ErrExists, and a missing foreign key (a release of no app) is
// app.ErrNotFound. Other errors are wrapped as they are.
func mapErr(step string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", step, app.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%s: %w", step, app.ErrExists)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %w", step, app.ErrNotFound)
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("%s: the disk holding pier's database is full, so nothing was changed: free space on it and try again (%w)", step, err)
		}
	}
	return fmt.Errorf("%s: %w", step, err)
}

// Times are stored as UTC RFC 3339 text with nanoseconds: readable in the
// sqlite3 shell, exact to the nanosecond, and valid for the zero time.
// Times read back are in UTC.

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}

package store

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"pier/app"
)

// What a replicated log needs of the store: changes applied at the log's
// own indexes, and snapshots of the desired state to compact the log and
// to bring a new machine up to date.

// replicated are the tables Apply writes: the desired state a cluster
// shares, certificates included. The rest (cron_runs, events) is this
// machine's own and stays out of snapshots. Parents come before children.
var replicated = []string{"apps", "releases", "domains", "ssh_keys", "cron_suspended", "settings", "join_tokens",
	"cert_values", "cert_locks", "applied"}

// replicatedSince are the replicated tables that were this machine's own
// before: a snapshot an older pier wrote lacks them, and restoring it
// leaves this machine's rows as they are.
var replicatedSince = map[string]bool{"cert_values": true, "cert_locks": true}

// ApplyAt applies c as entry index of a replicated log: in one
// transaction it skips c if index is at or below the applied index (a log
// replayed after a restart holds entries the database already has), and
// otherwise applies it and records index as the applied index. applied
// reports whether c was applied; a skipped change is not an error. A
// change refused as Apply refuses it (app.ErrExists, app.ErrNotFound)
// changes nothing, the applied index included. Watchers see an applied
// change with index, as they see Apply's.
//
// A store fed by ApplyAt must not also be fed by Apply, whose indexes
// would collide with the log's.
func (s *Store) ApplyAt(ctx context.Context, index uint64, c app.Change) (applied bool, err error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, mapErr("begin", err)
	}
	defer tx.Rollback()
	var cur uint64
	if err := tx.QueryRowContext(ctx, `SELECT idx FROM applied`).Scan(&cur); err != nil {
		return false, mapErr("read applied index", err)
	}
	if index <= cur {
		return false, nil
	}
	if err := s.apply(ctx, tx, c); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE applied SET idx = ?`, index); err != nil {
		return false, mapErr("record applied index", err)
	}
	if err := tx.Commit(); err != nil {
		return false, mapErr("commit", err)
	}
	s.feed.publish(app.Applied{Index: index, Change: c})
	return true, nil
}

// Snapshot writes a consistent copy of the desired state (the replicated
// tables, the applied index and the schema version) to w, as an SQLite
// database: what Restore reads. Writers wait while the copy is taken (a
// fraction of a second for pier's state); readers do not. The copy goes
// through a scratch file next to the database, removed before Snapshot
// returns.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) error {
	f, err := os.CreateTemp(s.dir, ".snapshot-*.db")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	path := f.Name()
	f.Close()
	defer removeScratch(path)
	err = s.withAttached(ctx, path, func(tx *sql.Tx) error {
		for _, t := range append([]string{"schema_migrations"}, replicated...) {
			if _, err := tx.ExecContext(ctx, `CREATE TABLE snap.`+t+` AS SELECT * FROM main.`+t); err != nil {
				return mapErr("copy "+t, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	f, err = os.Open(path)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	return nil
}

// Restore replaces the desired state with a snapshot's (what Snapshot
// wrote, by this pier or an older one), in one transaction, while the
// store stays open: readers see the old state until the commit, then the
// new. This machine's own tables stay, except cron runs of apps the
// snapshot does not have. Watchers are then sent one app.Resync with the
// snapshot's applied index. Restore fails, changing nothing, for a
// snapshot of a newer schema than this pier's or one that is not a
// snapshot at all.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	f, err := os.CreateTemp(s.dir, ".restore-*.db")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	path := f.Name()
	defer removeScratch(path)
	hr := &headReader{r: r}
	_, err = io.Copy(f, hr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: read snapshot: %w", err)
	}
	if !bytes.HasPrefix(hr.head, []byte(sqliteHeader)) {
		return errors.New("restore: not a pier snapshot: no SQLite header")
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	var index uint64
	err = s.withAttached(ctx, path, func(tx *sql.Tx) error {
		var err error
		index, err = s.restoreTables(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.feed.publish(app.Applied{Index: index, Change: app.Resync{}})
	return nil
}

// restoreTables copies the attached snapshot's tables over the
// replicated ones and returns the applied index it restored. Apps are
// updated in place rather than deleted and inserted again, so that the
// cron runs of an app that stays are not cascaded away with it; the other
// tables have no children and are replaced whole.
func (s *Store) restoreTables(ctx context.Context, tx *sql.Tx) (uint64, error) {
	var version int
	err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM snap.schema_migrations`).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("not a pier snapshot: %w", err)
	}
	var ours int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM main.schema_migrations`).Scan(&ours); err != nil {
		return 0, mapErr("read schema version", err)
	}
	if version > ours {
		return 0, fmt.Errorf("snapshot of schema version %d is newer than this pier's %d: upgrade pier", version, ours)
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return 0, mapErr("defer foreign keys", err)
	}
	for _, t := range replicated {
		if replicatedSince[t] {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM snap.sqlite_master WHERE type = 'table' AND name = ?`, t).Scan(&n); err != nil {
				return 0, mapErr("restore "+t, err)
			}
			if n == 0 {
				continue
			}
		}
		cols, err := commonColumns(ctx, tx, t)
		if err != nil {
			return 0, err
		}
		list := strings.Join(cols, ", ")
		var stmts []string
		switch t {
		case "applied":
			continue
		case "apps":
			var set []string
			for _, c := range cols {
				if c != `"name"` {
					set = append(set, c+" = excluded."+c)
				}
			}
			stmts = []string{
				`DELETE FROM main.apps WHERE name NOT IN (SELECT name FROM snap.apps)`,
				// WHERE true: without it "ON" would be read as a join's.
				`INSERT INTO main.apps (` + list + `) SELECT ` + list + ` FROM snap.apps WHERE true
					ON CONFLICT (name) DO UPDATE SET ` + strings.Join(set, ", "),
			}
		default:
			stmts = []string{
				`DELETE FROM main.` + t,
				`INSERT INTO main.` + t + ` (` + list + `) SELECT ` + list + ` FROM snap.` + t,
			}
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return 0, mapErr("restore "+t, err)
			}
		}
	}
	var index uint64
	err = tx.QueryRowContext(ctx, `UPDATE main.applied SET idx = (SELECT idx FROM snap.applied) RETURNING idx`).Scan(&index)
	if err != nil {
		return 0, mapErr("restore applied index", err)
	}
	return index, nil
}

// commonColumns lists, quoted, the columns table t has both here and in
// the snapshot: a snapshot of an older schema lacks columns added since,
// which then take their defaults. A table the snapshot lacks is an error.
func commonColumns(ctx context.Context, tx *sql.Tx, t string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.name FROM pragma_table_info(?, 'main') AS m
		JOIN pragma_table_info(?, 'snap') AS s ON s.name = m.name ORDER BY m.cid`, t, t)
	if err != nil {
		return nil, mapErr("columns of "+t, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, mapErr("columns of "+t, err)
		}
		cols = append(cols, `"`+strings.ReplaceAll(c, `"`, `""`)+`"`)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("columns of "+t, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("not a pier snapshot: no table %s", t)
	}
	return cols, nil
}

// withAttached runs fn in a write transaction on one connection that has
// the database file path attached as schema "snap", and detaches it again.
// A connection that cannot be detached is discarded, not returned to the
// pool.
func (s *Store) withAttached(ctx context.Context, path string, fn func(*sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return mapErr("connect", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS snap`, path); err != nil {
		return mapErr("attach", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.Background(), `DETACH DATABASE snap`); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("begin", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return mapErr("commit", err)
	}
	return nil
}

// sqliteHeader begins every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// headReader reads r, keeping the first bytes it read.
type headReader struct {
	r    io.Reader
	head []byte
}

func (h *headReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if need := len(sqliteHeader) - len(h.head); need > 0 {
		h.head = append(h.head, p[:min(n, need)]...)
	}
	return n, err
}

// removeScratch removes a scratch database and the journal SQLite may have
// left beside it.
func removeScratch(path string) {
	for _, p := range []string{path, path + "-journal", path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
}

// Reset empties the desired state (the replicated tables) and sets the
// applied index back to 0, in one transaction, then tells watchers to
// resync: what a machine does before it joins a cluster, whose state it
// takes whole, and after it leaves one, whose state was not its own.
// This machine's own tables stay, except cron runs of the apps removed.
func (s *Store) Reset(ctx context.Context) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("begin", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return mapErr("defer foreign keys", err)
	}
	for i := len(replicated) - 1; i >= 0; i-- {
		q := `DELETE FROM main.` + replicated[i]
		if replicated[i] == "applied" {
			q = `UPDATE main.applied SET idx = 0`
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return mapErr("reset "+replicated[i], err)
		}
	}
	if err := tx.Commit(); err != nil {
		return mapErr("commit", err)
	}
	s.feed.publish(app.Applied{Index: 0, Change: app.Resync{}})
	return nil
}

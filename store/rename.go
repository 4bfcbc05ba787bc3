package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"pier/app"
)

// appColumnsOf are the tables whose app column names an app: a rename
// carries them all along. The audit log follows the app too, so that
// `events NEW` shows its whole history.
var appColumnsOf = []string{"releases", "cron_suspended", "cron_runs", "domains", "events", "ssh_keys", "app_certs"}

// renameApp gives app from the name to in every table, in one transaction.
// app.ErrNotFound if from does not exist, app.ErrExists if to does. The
// foreign keys are checked at the commit, once parent and children agree.
func (s *Store) renameApp(ctx context.Context, tx *sql.Tx, from, to string) error {
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return mapErr("rename app", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE apps SET name = ? WHERE name = ?`, to, from)
	if err != nil {
		return mapErr("rename app "+from, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("rename app "+from, err)
	} else if n == 0 {
		return fmt.Errorf("app %s: %w", from, app.ErrNotFound)
	}
	for _, table := range appColumnsOf {
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET app = ? WHERE app = ?`, to, from); err != nil {
			return mapErr("rename app in "+table, err)
		}
	}
	return nil
}

// BeginRename records that app from is being renamed to, at step 0, before
// anything moves. The journal is this machine's (the files it covers are):
// it is written outside the change log. app.ErrExists if a rename of
// either name is under way.
func (s *Store) BeginRename(ctx context.Context, from, to string) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO renames (from_name, to_name, step, started_at)
		SELECT ?, ?, 0, ? WHERE NOT EXISTS (SELECT 1 FROM renames
			WHERE from_name IN (?, ?) OR to_name IN (?, ?))`,
		from, to, time.Now().UTC().Format(time.RFC3339Nano), from, to, from, to)
	if err != nil {
		return mapErr("record the rename of "+from, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("record the rename of "+from, err)
	} else if n == 0 {
		return fmt.Errorf("a rename of %s or %s is under way: %w", from, to, app.ErrExists)
	}
	return nil
}

// SetRenameStep records the last step done of the rename of app from.
func (s *Store) SetRenameStep(ctx context.Context, from string, step int) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE renames SET step = ? WHERE from_name = ?`, step, from); err != nil {
		return mapErr("record the rename of "+from, err)
	}
	return nil
}

// EndRename forgets the rename of app from: it is done, or undone. Ending
// one that is not recorded is no error.
func (s *Store) EndRename(ctx context.Context, from string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM renames WHERE from_name = ?`, from); err != nil {
		return mapErr("forget the rename of "+from, err)
	}
	return nil
}

// Renames lists the renames under way, oldest first.
func (s *Store) Renames(ctx context.Context) ([]app.RenameIntent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT from_name, to_name, step FROM renames ORDER BY started_at, from_name`)
	if err != nil {
		return nil, mapErr("list renames", err)
	}
	defer rows.Close()
	var out []app.RenameIntent
	for rows.Next() {
		var r app.RenameIntent
		if err := rows.Scan(&r.From, &r.To, &r.Step); err != nil {
			return nil, mapErr("list renames", err)
		}
		out = append(out, r)
	}
	return out, mapErrIf("list renames", rows.Err())
}

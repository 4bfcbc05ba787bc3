package store

import (
	"context"
	"database/sql"
	"fmt"

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

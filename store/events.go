package store

import (
	"context"
	"database/sql"
	"fmt"

	"pier/app"
)

// destroyApp deletes an app; its releases, cron entries and runs go with it
// (foreign keys cascade). app.ErrNotFound if there is none.
func (s *Store) destroyApp(ctx context.Context, tx *sql.Tx, name string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE name = ?`, name)
	if err != nil {
		return mapErr("delete app", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("delete app", err)
	} else if n == 0 {
		return fmt.Errorf("app %s: %w", name, app.ErrNotFound)
	}
	// A key limited to the app goes with it: it must not create an app
	// of the same name later.
	if _, err := tx.ExecContext(ctx, `DELETE FROM ssh_keys WHERE app = ?`, name); err != nil {
		return mapErr("delete the app's keys", err)
	}
	return nil
}

// AddEvent appends an entry to the audit log. e.ID is ignored.
func (s *Store) AddEvent(ctx context.Context, e app.Event) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO events (at, who, app, action, detail) VALUES (?, ?, ?, ?, ?)`,
		formatTime(e.At), e.Who, e.App, e.Action, e.Detail)
	if err != nil {
		return mapErr("add event", err)
	}
	return nil
}

// Events returns up to limit entries of the audit log, newest first; only
// those about appName unless it is "".
func (s *Store) Events(ctx context.Context, appName string, limit int) ([]app.Event, error) {
	q := `SELECT id, at, who, app, action, detail FROM events`
	args := []any{}
	if appName != "" {
		q += ` WHERE app = ?`
		args = append(args, appName)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr("list events", err)
	}
	defer rows.Close()
	var out []app.Event
	for rows.Next() {
		var (
			e  app.Event
			at string
		)
		if err := rows.Scan(&e.ID, &at, &e.Who, &e.App, &e.Action, &e.Detail); err != nil {
			return nil, mapErr("list events", err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, mapErrIf("list events", rows.Err())
}

func mapErrIf(step string, err error) error {
	if err == nil {
		return nil
	}
	return mapErr(step, err)
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"pier/app"
)

var _ app.CronRuns = (*Store)(nil)

// setCronSuspended replaces the suspended cron entries of an app.
func (s *Store) setCronSuspended(ctx context.Context, tx *sql.Tx, name string, ids []string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM apps WHERE name = ?`, name).Scan(&n); err != nil {
		return mapErr("suspend cron", err)
	} else if n == 0 {
		return fmt.Errorf("suspend cron: app %s: %w", name, app.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM cron_suspended WHERE app = ?`, name); err != nil {
		return mapErr("suspend cron", err)
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cron_suspended (app, entry) VALUES (?, ?)`, name, id); err != nil {
			return mapErr("suspend cron "+id, err)
		}
	}
	return nil
}

// CronSuspended lists the IDs of an app's suspended cron entries, sorted;
// nil if none (or no such app).
func (s *Store) CronSuspended(ctx context.Context, name string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT entry FROM cron_suspended WHERE app = ? ORDER BY entry`, name)
	if err != nil {
		return nil, mapErr("suspended cron entries of "+name, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr("suspended cron entries of "+name, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("suspended cron entries of "+name, err)
	}
	return ids, nil
}

// StartCronRun records r and returns its ID; the entry's runs beyond the
// newest app.KeepCronRuns are dropped. app.ErrNotFound if the app does not
// exist.
func (s *Store) StartCronRun(ctx context.Context, r app.CronRun) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapErr("begin", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO cron_runs
		(app, entry, command, trigger, scheduled_at, started_at, ended_at, exit_code, status, output)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.App, r.Entry, r.Command, r.Trigger, formatTime(r.Scheduled), formatTime(r.Started),
		optionalTime(r.Ended), r.ExitCode, r.Status, r.Output)
	if err != nil {
		return 0, mapErr("record cron run", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, mapErr("record cron run", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM cron_runs WHERE app = ? AND entry = ? AND id NOT IN
		(SELECT id FROM cron_runs WHERE app = ? AND entry = ? ORDER BY id DESC LIMIT ?)`,
		r.App, r.Entry, r.App, r.Entry, app.KeepCronRuns); err != nil {
		return 0, mapErr("trim cron runs", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, mapErr("commit", err)
	}
	return id, nil
}

// FinishCronRun records the end of run r.ID. A run that was trimmed away
// meanwhile is not an error.
func (s *Store) FinishCronRun(ctx context.Context, r app.CronRun) error {
	_, err := s.db.ExecContext(ctx, `UPDATE cron_runs SET ended_at = ?, exit_code = ?, status = ?, output = ? WHERE id = ?`,
		optionalTime(r.Ended), r.ExitCode, r.Status, r.Output, r.ID)
	if err != nil {
		return mapErr("record cron run", err)
	}
	return nil
}

// CronRuns lists an app's runs, newest first, of one entry or of all if
// entry is "".
func (s *Store) CronRuns(ctx context.Context, name, entry string, limit int) ([]app.CronRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, app, entry, command, trigger, scheduled_at, started_at,
		ended_at, exit_code, status, output FROM cron_runs
		WHERE app = ? AND (? = '' OR entry = ?) ORDER BY id DESC LIMIT ?`, name, entry, entry, limit)
	if err != nil {
		return nil, mapErr("list cron runs of "+name, err)
	}
	defer rows.Close()
	var runs []app.CronRun
	for rows.Next() {
		var (
			r                         app.CronRun
			scheduled, started, ended string
		)
		if err := rows.Scan(&r.ID, &r.App, &r.Entry, &r.Command, &r.Trigger, &scheduled, &started,
			&ended, &r.ExitCode, &r.Status, &r.Output); err != nil {
			return nil, mapErr("list cron runs of "+name, err)
		}
		if r.Scheduled, err = parseTime(scheduled); err != nil {
			return nil, err
		}
		if r.Started, err = parseTime(started); err != nil {
			return nil, err
		}
		if ended != "" {
			if r.Ended, err = parseTime(ended); err != nil {
				return nil, err
			}
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list cron runs of "+name, err)
	}
	return runs, nil
}

// InterruptCronRuns marks every run still "running" as interrupted at at.
func (s *Store) InterruptCronRuns(ctx context.Context, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE cron_runs SET status = 'interrupted', ended_at = ?
		WHERE status = 'running'`, formatTime(at))
	if err != nil {
		return 0, mapErr("mark interrupted cron runs", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// optionalTime formats t, or "" for the zero time.
func optionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

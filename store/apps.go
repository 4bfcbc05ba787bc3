package store

import (
	"context"
	"encoding/json"
	"fmt"

	"pier/app"
)

// createApp inserts a; app.ErrExists if the name is taken. a.Release is
// stored as given (normally 0).
func (s *Store) createApp(ctx context.Context, a app.App) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO apps (name, created_at, release) VALUES (?, ?, ?)`,
		a.Name, formatTime(a.CreatedAt), a.Release)
	if err != nil {
		return mapErr("insert app", err)
	}
	return nil
}

// putRelease inserts r and makes it its app's current release, in one
// transaction: app.ErrNotFound if the app does not exist, app.ErrExists if
// the version does (and the current release is left as it was). A nil
// r.Processes is stored as an empty object.
//
// The app row is updated first so a missing app is found without relying on
// the foreign key, and so a failed insert rolls the update back.
func (s *Store) putRelease(ctx context.Context, r app.Release) error {
	procs := r.Processes
	if procs == nil {
		procs = map[string]string{}
	}
	pj, err := json.Marshal(procs)
	if err != nil {
		return fmt.Errorf("encode processes: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("begin", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE apps SET release = ? WHERE name = ?`, r.Version, r.App)
	if err != nil {
		return mapErr("set current release", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("set current release", err)
	} else if n == 0 {
		return fmt.Errorf("app %s: %w", r.App, app.ErrNotFound)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO releases
		(app, version, image, stack, commit_sha, processes, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.App, r.Version, r.Image, r.Stack, r.Commit, string(pj), r.CreatedBy, formatTime(r.CreatedAt))
	if err != nil {
		return mapErr(fmt.Sprintf("insert release v%d", r.Version), err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr("commit", err)
	}
	return nil
}

// App returns the named app; app.ErrNotFound if there is none.
func (s *Store) App(ctx context.Context, name string) (app.App, error) {
	var (
		a       app.App
		created string
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT name, created_at, release FROM apps WHERE name = ?`, name,
	).Scan(&a.Name, &created, &a.Release)
	if err != nil {
		return app.App{}, mapErr("app "+name, err)
	}
	if a.CreatedAt, err = parseTime(created); err != nil {
		return app.App{}, fmt.Errorf("app %s: %w", name, err)
	}
	return a, nil
}

// Apps lists every app sorted by name; nil if there are none.
func (s *Store) Apps(ctx context.Context) ([]app.App, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, created_at, release FROM apps ORDER BY name`)
	if err != nil {
		return nil, mapErr("list apps", err)
	}
	defer rows.Close()
	var apps []app.App
	for rows.Next() {
		var (
			a       app.App
			created string
		)
		if err := rows.Scan(&a.Name, &created, &a.Release); err != nil {
			return nil, mapErr("list apps", err)
		}
		if a.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("app %s: %w", a.Name, err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list apps", err)
	}
	return apps, nil
}

const releaseColumns = `app, version, image, stack, commit_sha, processes, created_by, created_at`

// Release returns one release of an app; app.ErrNotFound if there is no such
// app or version. Processes is never nil.
func (s *Store) Release(ctx context.Context, name string, version int) (app.Release, error) {
	row := s.db.QueryRowContext(ctx,
		`SELECT `+releaseColumns+` FROM releases WHERE app = ? AND version = ?`, name, version)
	r, err := scanRelease(row)
	if err != nil {
		return app.Release{}, mapErr(fmt.Sprintf("release %s v%d", name, version), err)
	}
	return r, nil
}

// Releases lists an app's releases, newest (highest version) first; nil if it
// has none or the app does not exist.
func (s *Store) Releases(ctx context.Context, name string) ([]app.Release, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+releaseColumns+` FROM releases WHERE app = ? ORDER BY version DESC`, name)
	if err != nil {
		return nil, mapErr("list releases of "+name, err)
	}
	defer rows.Close()
	var rs []app.Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, mapErr("list releases of "+name, err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list releases of "+name, err)
	}
	return rs, nil
}

// scanRelease reads one row of releaseColumns from a *sql.Row or *sql.Rows.
func scanRelease(row interface{ Scan(...any) error }) (app.Release, error) {
	var (
		r                app.Release
		procs, createdAt string
	)
	err := row.Scan(&r.App, &r.Version, &r.Image, &r.Stack, &r.Commit, &procs, &r.CreatedBy, &createdAt)
	if err != nil {
		return app.Release{}, err
	}
	if err := json.Unmarshal([]byte(procs), &r.Processes); err != nil {
		return app.Release{}, fmt.Errorf("decode processes: %w", err)
	}
	if r.Processes == nil {
		r.Processes = map[string]string{}
	}
	if r.CreatedAt, err = parseTime(createdAt); err != nil {
		return app.Release{}, err
	}
	return r, nil
}

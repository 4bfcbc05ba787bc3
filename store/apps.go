package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"pier/app"
)

// createApp inserts a; app.ErrExists if the name is taken. a.Release is
// stored as given (normally 0). The app gets the user ID after the highest
// one in use, or the lowest free one once the range's top is taken (see
// app.FirstUID): chosen in the transaction, from the store's state alone,
// so that every machine of a cluster applying the change picks the same.
func (s *Store) createApp(ctx context.Context, tx *sql.Tx, a app.App) error {
	uid, err := nextUID(ctx, tx)
	if err != nil {
		return fmt.Errorf("app %s: %w", a.Name, err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO apps (name, created_at, release, uid) VALUES (?, ?, ?, ?)`,
		a.Name, formatTime(a.CreatedAt), a.Release, uid)
	if err != nil {
		return mapErr("insert app", err)
	}
	return nil
}

// nextUID is the user ID for a new app: the one after the highest in use,
// or the lowest free one once app.LastUID is taken.
func nextUID(ctx context.Context, tx *sql.Tx) (int, error) {
	var top sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(uid) FROM apps`).Scan(&top); err != nil {
		return 0, mapErr("pick a user ID", err)
	}
	if uid := max(int(top.Int64)+1, app.FirstUID); uid <= app.LastUID {
		return uid, nil
	}
	var free sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT min(u) FROM (SELECT ? AS u UNION ALL SELECT uid + 1 FROM apps)
		WHERE u BETWEEN ? AND ? AND u NOT IN (SELECT uid FROM apps)`, app.FirstUID, app.FirstUID, app.LastUID).Scan(&free)
	if err != nil {
		return 0, mapErr("pick a user ID", err)
	}
	if !free.Valid {
		return 0, fmt.Errorf("no user ID left for a new app (pier gives each app its own, %d to %d): destroy apps no longer used", app.FirstUID, app.LastUID)
	}
	return int(free.Int64), nil
}

// putRelease inserts r and makes it its app's current release, with the
// placement nodes and the formation if they are not nil, in one
// transaction: app.ErrNotFound if the app does not exist, app.ErrExists if
// the version does (and the current release is left as it was). A nil
// r.Processes is stored as an empty object.
//
// The app row is updated first so a missing app is found without relying on
// the foreign key, and so a failed insert rolls the update back.
func (s *Store) putRelease(ctx context.Context, tx *sql.Tx, r app.Release, nodes []string, formation map[string]int) error {
	placement, err := encodeJSON(nodes, "") // nil: left as it is
	if err != nil {
		return fmt.Errorf("encode placement: %w", err)
	}
	fj, err := encodeJSON(formation, "")
	if err != nil {
		return fmt.Errorf("encode formation: %w", err)
	}
	pj, err := encodeJSON(r.Processes, "{}")
	if err != nil {
		return fmt.Errorf("encode processes: %w", err)
	}
	cj, err := encodeJSON(r.Config, "{}")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	mj, err := json.Marshal(r.Manifest)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	cronj, err := encodeJSON(r.Cron, "[]")
	if err != nil {
		return fmt.Errorf("encode cron: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE apps SET release = ?, config = ?,
		placement = CASE WHEN ? = '' THEN placement ELSE ? END,
		formation = CASE WHEN ? = '' THEN formation ELSE ? END WHERE name = ?`, r.Version, cj, placement, placement, fj, fj, r.App)
	if err != nil {
		return mapErr("set current release", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("set current release", err)
	} else if n == 0 {
		return fmt.Errorf("app %s: %w", r.App, app.ErrNotFound)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO releases
		(app, version, image, stack, commit_sha, processes, config, manifest, description, created_by, created_at, cron, static)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.App, r.Version, r.Image, r.Stack, r.Commit, pj, cj, string(mj), r.Description, r.CreatedBy, formatTime(r.CreatedAt), cronj, r.Static)
	if err != nil {
		return mapErr(fmt.Sprintf("insert release v%d", r.Version), err)
	}
	return nil
}

// App returns the named app; app.ErrNotFound if there is none.
func (s *Store) App(ctx context.Context, name string) (app.App, error) {
	a, err := scanApp(s.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE name = ?`, name))
	if err != nil {
		return app.App{}, mapErr("app "+name, err)
	}
	return a, nil
}

// Apps lists every app sorted by name; nil if there are none.
func (s *Store) Apps(ctx context.Context) ([]app.App, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+appColumns+` FROM apps ORDER BY name`)
	if err != nil {
		return nil, mapErr("list apps", err)
	}
	defer rows.Close()
	var apps []app.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, mapErr("list apps", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list apps", err)
	}
	return apps, nil
}

const appColumns = `name, created_at, release, uid, config, formation, stopped, volumes, sleep_policy, sleep_state, limits, access, placement, restarts, checks,
	(SELECT json_group_array(domain) FROM (SELECT domain FROM domains WHERE app = apps.name ORDER BY domain)),
	COALESCE((SELECT static != '' FROM releases WHERE app = apps.name AND version = apps.release), 0)`

// scanApp reads one row of appColumns. Maps are never nil.
func scanApp(row interface{ Scan(...any) error }) (app.App, error) {
	var (
		a                                                  app.App
		created, config, formation, volume, policy, limits string
		domains, access, placement, checks                 string
	)
	if err := row.Scan(&a.Name, &created, &a.Release, &a.UID, &config, &formation, &a.Stopped, &volume, &policy, &a.Asleep, &limits, &access, &placement, &a.Restarts, &checks, &domains, &a.Static); err != nil {
		return app.App{}, err
	}
	if policy != "" {
		a.Sleep = &app.SleepPolicy{}
		if err := json.Unmarshal([]byte(policy), a.Sleep); err != nil {
			return app.App{}, fmt.Errorf("app %s: decode sleep policy: %w", a.Name, err)
		}
	}
	var err error
	if a.CreatedAt, err = parseTime(created); err != nil {
		return app.App{}, fmt.Errorf("app %s: %w", a.Name, err)
	}
	a.Config, a.Formation = map[string]string{}, map[string]int{}
	for _, f := range []struct {
		src string
		dst any
	}{{config, &a.Config}, {formation, &a.Formation}, {volume, &a.Volumes}, {limits, &a.Limits}, {domains, &a.Domains}, {access, &a.Access}, {placement, &a.Placement}, {checks, &a.Checks}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return app.App{}, fmt.Errorf("app %s: decode: %w", a.Name, err)
		}
	}
	if len(a.Domains) == 0 {
		a.Domains = nil
	}
	if len(a.Placement) == 0 {
		a.Placement = nil
	}
	if len(a.Checks) == 0 {
		a.Checks = nil
	}
	return a, nil
}

// encodeJSON encodes v, or returns empty for a nil map or slice.
func encodeJSON(v any, empty string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return empty, nil
	}
	return string(b), nil
}

// updateApp runs one UPDATE on an app row; app.ErrNotFound if there is none.
func (s *Store) updateApp(ctx context.Context, tx *sql.Tx, step, name, set string, arg any) error {
	res, err := tx.ExecContext(ctx, `UPDATE apps SET `+set+` = ? WHERE name = ?`, arg, name)
	if err != nil {
		return mapErr(step, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(step, err)
	} else if n == 0 {
		return fmt.Errorf("%s: app %s: %w", step, name, app.ErrNotFound)
	}
	return nil
}

// restartApp counts one more restart of app name.
func (s *Store) restartApp(ctx context.Context, tx *sql.Tx, name string) error {
	res, err := tx.ExecContext(ctx, `UPDATE apps SET restarts = restarts + 1 WHERE name = ?`, name)
	if err != nil {
		return mapErr("restart", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("restart", err)
	} else if n == 0 {
		return fmt.Errorf("restart: app %s: %w", name, app.ErrNotFound)
	}
	return nil
}

// setJSON stores v as JSON in column set of app name.
func (s *Store) setJSON(ctx context.Context, tx *sql.Tx, step, name, set string, v any, empty string) error {
	j, err := encodeJSON(v, empty)
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return s.updateApp(ctx, tx, step, name, set, j)
}

// deleteReleases forgets the given versions of an app.
func (s *Store) deleteReleases(ctx context.Context, tx *sql.Tx, name string, versions []int) error {
	for _, v := range versions {
		if _, err := tx.ExecContext(ctx, `DELETE FROM releases WHERE app = ? AND version = ?`, name, v); err != nil {
			return mapErr(fmt.Sprintf("delete release v%d", v), err)
		}
	}
	return nil
}

const releaseColumns = `app, version, image, stack, commit_sha, processes, config, manifest, description, created_by, created_at, cron, static`

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
		r                                  app.Release
		procs, config, manifest, createdAt string
		cron                               string
	)
	err := row.Scan(&r.App, &r.Version, &r.Image, &r.Stack, &r.Commit, &procs, &config, &manifest,
		&r.Description, &r.CreatedBy, &createdAt, &cron, &r.Static)
	if err != nil {
		return app.Release{}, err
	}
	r.Processes, r.Config = map[string]string{}, map[string]string{}
	if err := json.Unmarshal([]byte(procs), &r.Processes); err != nil {
		return app.Release{}, fmt.Errorf("decode processes: %w", err)
	}
	if err := json.Unmarshal([]byte(config), &r.Config); err != nil {
		return app.Release{}, fmt.Errorf("decode config: %w", err)
	}
	if err := json.Unmarshal([]byte(manifest), &r.Manifest); err != nil {
		return app.Release{}, fmt.Errorf("decode manifest: %w", err)
	}
	if err := json.Unmarshal([]byte(cron), &r.Cron); err != nil {
		return app.Release{}, fmt.Errorf("decode cron: %w", err)
	}
	if len(r.Cron) == 0 {
		r.Cron = nil
	}
	if r.CreatedAt, err = parseTime(createdAt); err != nil {
		return app.Release{}, err
	}
	return r, nil
}

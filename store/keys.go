package store

import (
	"context"
	"database/sql"
	"fmt"

	"pier/app"
)

// addKey inserts k; app.ErrExists if its name or its fingerprint is taken.
func (s *Store) addKey(ctx context.Context, tx *sql.Tx, k app.Key) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO ssh_keys (name, fingerprint, public_key, app, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.Name, k.Fingerprint, k.PublicKey, k.App, formatTime(k.CreatedAt))
	if err != nil {
		return mapErr("insert key", err)
	}
	return nil
}

// removeKey deletes the named key; app.ErrNotFound if there is none.
func (s *Store) removeKey(ctx context.Context, tx *sql.Tx, name string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM ssh_keys WHERE name = ?`, name)
	if err != nil {
		return mapErr("delete key", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr("delete key", err)
	}
	if n == 0 {
		return fmt.Errorf("key %s: %w", name, app.ErrNotFound)
	}
	return nil
}

// Keys lists every key sorted by name; nil if there are none.
func (s *Store) Keys(ctx context.Context) ([]app.Key, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+keyColumns+` FROM ssh_keys ORDER BY name`)
	if err != nil {
		return nil, mapErr("list keys", err)
	}
	defer rows.Close()
	var keys []app.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, mapErr("list keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list keys", err)
	}
	return keys, nil
}

// KeyByFingerprint returns the key with this fingerprint (SHA256:...);
// app.ErrNotFound if none is registered.
func (s *Store) KeyByFingerprint(ctx context.Context, fingerprint string) (app.Key, error) {
	row := s.db.QueryRowContext(ctx,
		`SELECT `+keyColumns+` FROM ssh_keys WHERE fingerprint = ?`, fingerprint)
	k, err := scanKey(row)
	if err != nil {
		return app.Key{}, mapErr("key "+fingerprint, err)
	}
	return k, nil
}

const keyColumns = `name, fingerprint, public_key, app, created_at`

// scanKey reads one row of keyColumns from a *sql.Row or *sql.Rows.
func scanKey(row interface{ Scan(...any) error }) (app.Key, error) {
	var (
		k       app.Key
		created string
	)
	if err := row.Scan(&k.Name, &k.Fingerprint, &k.PublicKey, &k.App, &created); err != nil {
		return app.Key{}, err
	}
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return app.Key{}, err
	}
	return k, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"pier/app"
)

// setSetting stores an installation-wide setting, replacing its value.
func (s *Store) setSetting(ctx context.Context, tx *sql.Tx, key, value string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, value)
	if err != nil {
		return mapErr("set setting "+key, err)
	}
	return nil
}

// Setting returns an installation-wide setting; app.ErrNotFound if unset.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %s: %w", key, app.ErrNotFound)
	}
	if err != nil {
		return "", mapErr("read setting "+key, err)
	}
	return v, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"

	"pier/app"
)

func (s *Store) addJoinToken(ctx context.Context, tx *sql.Tx, t app.JoinToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO join_tokens (id, secret_hash, role, expires, used) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.SecretHash, t.Role, formatTime(t.Expires), t.Used)
	if err != nil {
		return mapErr("add join token", err)
	}
	return nil
}

// useJoinToken marks a token used: app.ErrNotFound if there is none,
// app.ErrExists if it was used already.
func (s *Store) useJoinToken(ctx context.Context, tx *sql.Tx, id string) error {
	var used bool
	if err := tx.QueryRowContext(ctx, `SELECT used FROM join_tokens WHERE id = ?`, id).Scan(&used); err != nil {
		return mapErr("use join token", err)
	}
	if used {
		return fmt.Errorf("join token %s: used already: %w", id, app.ErrExists)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE join_tokens SET used = 1 WHERE id = ?`, id); err != nil {
		return mapErr("use join token", err)
	}
	return nil
}

// JoinToken returns a join token's record; app.ErrNotFound if none.
func (s *Store) JoinToken(ctx context.Context, id string) (app.JoinToken, error) {
	var (
		t       app.JoinToken
		expires string
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, secret_hash, role, expires, used FROM join_tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.SecretHash, &t.Role, &expires, &t.Used)
	if err != nil {
		return app.JoinToken{}, mapErr("join token", err)
	}
	if t.Expires, err = parseTime(expires); err != nil {
		return app.JoinToken{}, fmt.Errorf("join token %s: %w", id, err)
	}
	return t, nil
}

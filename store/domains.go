package store

import (
	"context"
	"database/sql"
	"fmt"

	"pier/app"
)

// addDomain routes domain to an app: app.ErrExists if any app has it,
// app.ErrNotFound if the app does not exist.
func (s *Store) addDomain(ctx context.Context, tx *sql.Tx, name, domain string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO domains (domain, app) VALUES (?, ?)`, domain, name)
	if err != nil {
		return mapErr("add domain "+domain, err)
	}
	return nil
}

// removeDomain removes one of an app's domains; app.ErrNotFound if the app
// does not have it.
func (s *Store) removeDomain(ctx context.Context, tx *sql.Tx, name, domain string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE domain = ? AND app = ?`, domain, name)
	if err != nil {
		return mapErr("remove domain "+domain, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("remove domain "+domain, err)
	} else if n == 0 {
		return fmt.Errorf("domain %s of %s: %w", domain, name, app.ErrNotFound)
	}
	return nil
}

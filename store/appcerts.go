package store

import (
	"context"
	"database/sql"
	"errors"

	"pier/app"
)

// setAppCert records an app's own certificate, or removes it (empty).
func (s *Store) setAppCert(ctx context.Context, tx *sql.Tx, c app.SetAppCert) error {
	if c.Cert.CertPEM == "" {
		if _, err := tx.ExecContext(ctx, `DELETE FROM app_certs WHERE app = ?`, c.App); err != nil {
			return mapErr("remove certificate", err)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO app_certs (app, cert, key, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (app) DO UPDATE SET cert = excluded.cert, key = excluded.key, added_at = excluded.added_at`,
		c.App, c.Cert.CertPEM, c.Cert.KeyPEM, formatTime(c.At)); err != nil {
		return mapErr("add certificate", err)
	}
	return nil
}

// AppCert returns the certificate an app's owner brought; ok is false if
// there is none.
func (s *Store) AppCert(ctx context.Context, name string) (c app.AppCert, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT cert, key FROM app_certs WHERE app = ?`, name).Scan(&c.CertPEM, &c.KeyPEM)
	if errors.Is(err, sql.ErrNoRows) {
		return app.AppCert{}, false, nil
	}
	if err != nil {
		return app.AppCert{}, false, mapErr("read certificate", err)
	}
	return c, true, nil
}

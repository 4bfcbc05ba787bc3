package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"pier/app"
)

var (
	_ certmagic.Storage          = (*CertStorage)(nil)
	_ certmagic.TryLocker        = (*CertStorage)(nil)
	_ certmagic.LockLeaseRenewer = (*CertStorage)(nil)
)

// Lock timing. A held lock's lease is renewed every lockRenew while its
// holder lives; a lock whose lease ran out (its holder crashed) is taken
// over. Waiters look again every lockPoll.
const (
	lockLease = 30 * time.Second
	lockRenew = 10 * time.Second
	lockPoll  = 250 * time.Millisecond
)

// CertStorage is certmagic.Storage on the store's database: certificates,
// private keys, the ACME account and pier's internal CA live with the rest
// of pier's state. Keys are slash-separated paths ("certificates/acme/x/
// x.crt"); a key that is a prefix of others up to a slash is a directory.
//
// Reads come from this machine's database; writes and locks are changes
// (app.PutCertValue and the rest) made through a Writer, which in a cluster
// is the replicated log: every machine then holds the same certificates
// and the same locks, so a certificate is obtained once, by whoever takes
// its lock first.
//
// It is safe for concurrent use. A lock has a lease that a goroutine
// renews while the lock is held, so a crashed holder blocks others for at
// most lockLease.
type CertStorage struct {
	db *sql.DB
	w  Writer

	mu   sync.Mutex
	held map[string]heldLock // lock name -> ours
}

// Writer is where CertStorage makes its changes: the store itself, or a
// replicated log that applies them to it.
type Writer interface {
	Apply(ctx context.Context, c app.Change) error
}

type heldLock struct {
	token string
	stop  context.CancelFunc
}

// Certs returns the certificate storage over s's database, changed
// through s itself: a machine in no cluster.
func (s *Store) Certs() *CertStorage { return s.CertsThrough(s) }

// CertsThrough returns the certificate storage over s's database, changed
// through w, which must apply the changes to s before it returns.
func (s *Store) CertsThrough(w Writer) *CertStorage {
	return &CertStorage{db: s.db, w: w, held: map[string]heldLock{}}
}

// Store writes value at key, replacing what was there.
func (c *CertStorage) Store(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if err := c.w.Apply(ctx, app.PutCertValue{Key: key, Value: value, Modified: time.Now()}); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

func putCertValue(ctx context.Context, tx *sql.Tx, c app.PutCertValue) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cert_values (key, value, modified) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`,
		c.Key, c.Value, formatTime(c.Modified))
	if err != nil {
		return mapErr("store "+c.Key, err)
	}
	return nil
}

// Load returns the value at key; an error wrapping fs.ErrNotExist if there
// is none (certmagic branches on it).
func (c *CertStorage) Load(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.db.QueryRowContext(ctx, `SELECT value FROM cert_values WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, mapErr("load "+key, err)
	}
	return v, nil
}

// Delete removes key and, if it is a directory, everything under it.
// Deleting what does not exist succeeds.
func (c *CertStorage) Delete(ctx context.Context, key string) error {
	if err := c.w.Apply(ctx, app.DeleteCertValue{Key: key}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func deleteCertValue(ctx context.Context, tx *sql.Tx, key string) error {
	lo, hi := under(key)
	_, err := tx.ExecContext(ctx, `DELETE FROM cert_values WHERE key = ? OR (key >= ? AND key < ?)`, key, lo, hi)
	if err != nil {
		return mapErr("delete "+key, err)
	}
	return nil
}

// Exists reports whether key is a value or a directory.
func (c *CertStorage) Exists(ctx context.Context, key string) bool {
	_, err := c.Stat(ctx, key)
	return err == nil
}

// List returns the keys directly under dir, or with recursive every key
// below it (directories included, as certmagic's file storage does).
func (c *CertStorage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = strings.TrimSuffix(dir, "/")
	lo, hi := under(dir)
	rows, err := c.db.QueryContext(ctx, `SELECT key FROM cert_values WHERE key >= ? AND key < ? ORDER BY key`, lo, hi)
	if err != nil {
		return nil, mapErr("list "+dir, err)
	}
	defer rows.Close()
	var keys []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, mapErr("list "+dir, err)
		}
		rest := strings.TrimPrefix(k, lo)
		parts := strings.Split(rest, "/")
		if !recursive {
			add(lo + parts[0])
			continue
		}
		for i := range parts {
			add(lo + strings.Join(parts[:i+1], "/"))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list "+dir, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("list %s: %w", dir, fs.ErrNotExist)
	}
	return keys, nil
}

// Stat describes key: a value (terminal, with size and time), a directory,
// or an error wrapping fs.ErrNotExist.
func (c *CertStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var (
		size     int64
		modified string
	)
	err := c.db.QueryRowContext(ctx, `SELECT length(value), modified FROM cert_values WHERE key = ?`, key).Scan(&size, &modified)
	switch {
	case err == nil:
		t, err := parseTime(modified)
		if err != nil {
			return certmagic.KeyInfo{}, err
		}
		return certmagic.KeyInfo{Key: key, Modified: t, Size: size, IsTerminal: true}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return certmagic.KeyInfo{}, mapErr("stat "+key, err)
	}
	lo, hi := under(key)
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM cert_values WHERE key >= ? AND key < ? LIMIT 1)`, lo, hi).Scan(&n); err != nil {
		return certmagic.KeyInfo{}, mapErr("stat "+key, err)
	}
	if n == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key}, nil
}

// under returns the key range [lo, hi) of everything below dir: "dir/" up
// to "dir0" ('0' follows '/'), which needs no LIKE escaping.
func under(dir string) (lo, hi string) {
	if dir == "" {
		return "", "\U0010FFFF"
	}
	return dir + "/", dir + "0"
}

// Lock takes the named lock, waiting while someone else holds it, until ctx
// ends. A lock whose holder stopped renewing it is taken over.
func (c *CertStorage) Lock(ctx context.Context, name string) error {
	for {
		ok, err := c.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock %s: %w", name, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// TryLock takes the named lock if it is free (or its lease ran out) and
// reports whether it did. A lock this machine sees held is refused without
// a change being made, so that waiters polling a held lock write nothing.
func (c *CertStorage) TryLock(ctx context.Context, name string) (bool, error) {
	now := time.Now()
	if holder, expires, err := c.lockHolder(ctx, name); err != nil {
		return false, err
	} else if holder != "" && expires.After(now) {
		return false, nil
	}
	token := randomToken()
	if err := c.w.Apply(ctx, app.TakeCertLock{Name: name, Holder: token, At: now, Until: now.Add(lockLease)}); err != nil {
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	if holder, _, err := c.lockHolder(ctx, name); err != nil || holder != token {
		return false, err
	}
	kctx, stop := context.WithCancel(context.Background())
	c.mu.Lock()
	c.held[name] = heldLock{token: token, stop: stop}
	c.mu.Unlock()
	go c.keepAlive(kctx, name, token)
	return true, nil
}

// lockHolder returns the holder of the named lock and when its lease runs
// out; "" if no one holds it.
func (c *CertStorage) lockHolder(ctx context.Context, name string) (string, time.Time, error) {
	var (
		holder  string
		expires int64
	)
	err := c.db.QueryRowContext(ctx, `SELECT holder, expires FROM cert_locks WHERE name = ?`, name).Scan(&holder, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, mapErr("lock "+name, err)
	}
	return holder, time.Unix(0, expires), nil
}

func takeCertLock(ctx context.Context, tx *sql.Tx, c app.TakeCertLock) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cert_locks (name, holder, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE cert_locks.expires < ? OR cert_locks.holder = excluded.holder`,
		c.Name, c.Holder, c.Until.UnixNano(), c.At.UnixNano())
	if err != nil {
		return mapErr("lock "+c.Name, err)
	}
	return nil
}

func releaseCertLock(ctx context.Context, tx *sql.Tx, c app.ReleaseCertLock) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM cert_locks WHERE name = ? AND holder = ?`, c.Name, c.Holder)
	if err != nil {
		return mapErr("unlock "+c.Name, err)
	}
	return nil
}

// keepAlive renews a held lock's lease until ctx ends (Unlock).
func (c *CertStorage) keepAlive(ctx context.Context, name, token string) {
	t := time.NewTicker(lockRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.renew(ctx, name, token, lockLease)
		}
	}
}

func (c *CertStorage) renew(ctx context.Context, name, token string, lease time.Duration) error {
	now := time.Now()
	if err := c.w.Apply(ctx, app.TakeCertLock{Name: name, Holder: token, At: now, Until: now.Add(lease)}); err != nil {
		return fmt.Errorf("renew lock %s: %w", name, err)
	}
	if holder, _, err := c.lockHolder(ctx, name); err != nil {
		return err
	} else if holder != token {
		return fmt.Errorf("renew lock %s: no longer held", name)
	}
	return nil
}

// RenewLockLease extends a lock this storage holds by lease from now.
func (c *CertStorage) RenewLockLease(ctx context.Context, name string, lease time.Duration) error {
	c.mu.Lock()
	h, ok := c.held[name]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("renew lock %s: not held", name)
	}
	return c.renew(ctx, name, h.token, lease)
}

// Unlock releases a lock this storage holds. A lock that was meanwhile
// taken over (its lease ran out) is left to its new holder.
func (c *CertStorage) Unlock(ctx context.Context, name string) error {
	c.mu.Lock()
	h, ok := c.held[name]
	delete(c.held, name)
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("unlock %s: not held", name)
	}
	h.stop()
	if err := c.w.Apply(ctx, app.ReleaseCertLock{Name: name, Holder: h.token}); err != nil {
		return fmt.Errorf("unlock %s: %w", name, err)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

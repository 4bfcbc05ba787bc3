package store

import (
	"context"

	"pier/app"
)

// What a replicated log needs of the store: changes applied at the log's
// own indexes, and snapshots of the desired state to compact the log and
// to bring a new machine up to date.

// ApplyAt applies c as entry index of a replicated log: in one
// transaction it skips c if index is at or below the applied index (a log
// replayed after a restart holds entries the database already has), and
// otherwise applies it and records index as the applied index. applied
// reports whether c was applied; a skipped change is not an error. A
// change refused as Apply refuses it (app.ErrExists, app.ErrNotFound)
// changes nothing, the applied index included. Watchers see an applied
// change with index, as they see Apply's.
//
// A store fed by ApplyAt must not also be fed by Apply, whose indexes
// would collide with the log's.
func (s *Store) ApplyAt(ctx context.Context, index uint64, c app.Change) (applied bool, err error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, mapErr("begin", err)
	}
	defer tx.Rollback()
	var cur uint64
	if err := tx.QueryRowContext(ctx, `SELECT idx FROM applied`).Scan(&cur); err != nil {
		return false, mapErr("read applied index", err)
	}
	if index <= cur {
		return false, nil
	}
	if err := s.apply(ctx, tx, c); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE applied SET idx = ?`, index); err != nil {
		return false, mapErr("record applied index", err)
	}
	if err := tx.Commit(); err != nil {
		return false, mapErr("commit", err)
	}
	s.feed.publish(app.Applied{Index: index, Change: c})
	return true, nil
}

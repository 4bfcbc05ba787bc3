package consensus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"pier/app"
)

// Store is the desired state as the cluster keeps it, for the rest of pier
// (it has the methods of app.Store, node.Store and cron.Store): reads
// come from this machine's store, which may trail the leader by the
// changes in flight; Apply goes through the log. It is safe for
// concurrent use.
type Store struct{ c *Consensus }

// Store returns the cluster's desired state.
func (c *Consensus) Store() *Store { return &Store{c} }

// Apply makes one change to the desired state of the whole cluster: on the
// leader it is appended to the log, on a follower forwarded to the leader
// (while there is none, Apply waits for one). It returns once the change
// is committed and this machine's store has it, with the store's error
// for a refused change (wrapping app.ErrExists or app.ErrNotFound as the
// change types document). Without a deadline on ctx it waits at most
// Config.ApplyTimeout. A change that failed for want of a leader, or
// whose leader was lost before it committed, returns an error; the latter
// may still take effect.
func (s *Store) Apply(ctx context.Context, c app.Change) error {
	entry, err := app.EncodeChange(c)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.c.applyTimeout)
		defer cancel()
	}
	return s.c.apply(ctx, entry)
}

// errNoLeader: an election is under way.
var errNoLeader = errors.New("the cluster has no leader")

// apply applies an encoded change on the leader, wherever it is.
func (c *Consensus) apply(ctx context.Context, entry []byte) error {
	for {
		var err error
		leader, known := c.Leader()
		switch {
		case c.raft.State() == raft.Leader:
			_, err = c.applyLocal(ctx, entry)
		case known && c.forwarder != nil:
			var index uint64
			if index, err = c.forwarder.Forward(ctx, leader, entry); err == nil {
				if err := c.fsm.wait(ctx, index); err != nil {
					return fmt.Errorf("change committed at index %d, but this machine has not caught up: %w", index, err)
				}
			}
		case known:
			return fmt.Errorf("apply on %s: %w", c.id, ErrNotLeader)
		default:
			err = errNoLeader
		}
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, errNoLeader) {
			return err
		}
		// Leadership moved, or an election is under way; nothing was
		// appended: try again.
		select {
		case <-ctx.Done():
			return fmt.Errorf("apply: %w: %w", err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// applyLocal appends an encoded change to the log on the leader and waits
// until this machine's store applied it; it returns the entry's index and
// the store's error. ErrNotLeader if this machine does not lead.
func (c *Consensus) applyLocal(ctx context.Context, entry []byte) (uint64, error) {
	f := c.raft.Apply(entry, c.applyTimeout)
	if err := wait(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return 0, ErrNotLeader
		}
		return 0, fmt.Errorf("apply: %w", err)
	}
	refused, _ := f.Response().(error)
	return f.Index(), refused
}

// The reads, from this machine's store.

func (s *Store) App(ctx context.Context, name string) (app.App, error) {
	return s.c.store.App(ctx, name)
}

func (s *Store) Apps(ctx context.Context) ([]app.App, error) { return s.c.store.Apps(ctx) }

func (s *Store) AppCert(ctx context.Context, name string) (app.AppCert, bool, error) {
	return s.c.store.AppCert(ctx, name)
}

func (s *Store) Release(ctx context.Context, name string, version int) (app.Release, error) {
	return s.c.store.Release(ctx, name, version)
}

func (s *Store) Releases(ctx context.Context, name string) ([]app.Release, error) {
	return s.c.store.Releases(ctx, name)
}

func (s *Store) Keys(ctx context.Context) ([]app.Key, error) { return s.c.store.Keys(ctx) }

func (s *Store) KeyByFingerprint(ctx context.Context, fingerprint string) (app.Key, error) {
	return s.c.store.KeyByFingerprint(ctx, fingerprint)
}

func (s *Store) CronSuspended(ctx context.Context, name string) ([]string, error) {
	return s.c.store.CronSuspended(ctx, name)
}

func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	return s.c.store.Setting(ctx, key)
}

// AppliedIndex is the index of the last log entry this machine's store
// applied.
func (s *Store) AppliedIndex(ctx context.Context) (uint64, error) {
	return s.c.store.AppliedIndex(ctx)
}

// Watch streams the changes this machine's store applies, from any
// writer in the cluster, with their log indexes; see app.Watcher. A
// snapshot installed from the leader arrives as an app.Resync.
func (s *Store) Watch(ctx context.Context) <-chan app.Applied { return s.c.store.Watch(ctx) }

var _ app.Store = (*Store)(nil)

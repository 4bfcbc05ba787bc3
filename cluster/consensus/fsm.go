package consensus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/hashicorp/raft"

	"pier/app"
)

// errStoreAhead refuses log entries on a machine whose store holds changes
// its log does not (see Open).
var errStoreAhead = errors.New("this machine's store holds changes the cluster's log does not: " +
	"start it with an empty store to join a cluster, or found one with Bootstrap")

// fsm is raft's state machine: this machine's store, fed by the log. Raft
// calls Apply, Snapshot and Restore from one goroutine; Persist and
// Release of a snapshot run concurrently with Apply.
type fsm struct {
	store Local
	dir   string // scratch files of snapshots being persisted
	log   *slog.Logger

	mu      sync.Mutex
	index   uint64        // the last log entry taken: applied, skipped or refused
	changed chan struct{} // closed and replaced when index grows
	ahead   bool          // the store is ahead of the log: refuse entries until a Restore
}

var _ raft.FSM = (*fsm)(nil)

func newFSM(store Local, dir string, log *slog.Logger, index uint64, ahead bool) *fsm {
	return &fsm{store: store, dir: dir, log: log, index: index, ahead: ahead, changed: make(chan struct{})}
}

// Apply applies a committed entry to the store at its index and returns
// the store's error (nil, or one wrapping app.ErrExists or
// app.ErrNotFound...) as the response the writer gets. A refused change
// is refused alike on every machine, since they all hold the same state
// at that index. Any other failure (a full disk) leaves this machine
// behind the others: it is logged.
func (f *fsm) Apply(l *raft.Log) any {
	err := f.apply(l)
	if err != nil && !errors.Is(err, app.ErrExists) && !errors.Is(err, app.ErrNotFound) {
		f.log.Error("apply log entry", "index", l.Index, "err", err)
	}
	f.took(l.Index, false)
	return err
}

func (f *fsm) apply(l *raft.Log) error {
	f.mu.Lock()
	ahead := f.ahead
	f.mu.Unlock()
	if ahead {
		return errStoreAhead
	}
	c, err := app.DecodeChange(l.Data)
	if err != nil {
		return err
	}
	_, err = f.store.ApplyAt(context.Background(), l.Index, c)
	return err
}

// took records that the entries up to index were taken (set: after a
// restore, which may move the index either way), waking waiters.
func (f *fsm) took(index uint64, set bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index > f.index || set && index != f.index {
		f.index = index
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

// wait returns once the entry at index was taken here, or ctx ends.
func (f *fsm) wait(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		cur, changed := f.index, f.changed
		f.mu.Unlock()
		if cur >= index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot copies the store into a scratch file at once (Apply waits
// meanwhile; the copy of pier's state is small), which Persist streams
// to raft's snapshot store while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	file, err := snapshotFile(context.Background(), f.store, f.dir)
	if err != nil {
		return nil, err
	}
	return &fileSnapshot{file}, nil
}

// snapshotFile writes store's snapshot, headed by its applied index, to a
// scratch file in dir, and returns the file positioned at its end. The
// caller removes it. The store must not change meanwhile (the log is its
// only writer, and waits).
func snapshotFile(ctx context.Context, store Local, dir string) (*os.File, error) {
	index, err := store.AppliedIndex(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	file, err := os.CreateTemp(dir, scratchPattern)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if _, err = fmt.Fprintf(file, snapshotHeader, index); err == nil {
		err = store.Snapshot(ctx, file)
	}
	if err != nil {
		file.Close()
		os.Remove(file.Name())
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return file, nil
}

// snapshotHeader begins every snapshot of the log, before the store's own
// bytes: the store's applied index, so that a restart can tell whether the
// store already holds a snapshot without restoring it.
const snapshotHeader = "pier snapshot 1 applied %d\n"

// readSnapshotHeader reads the header off a snapshot and returns the
// applied index it names, leaving r at the store's bytes.
func readSnapshotHeader(r *bufio.Reader) (uint64, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("read snapshot header: %w", err)
	}
	var index uint64
	if _, err := fmt.Sscanf(line, snapshotHeader, &index); err != nil {
		return 0, fmt.Errorf("not a pier snapshot: header %.40q", line)
	}
	return index, nil
}

// Restore replaces the store's desired state with a snapshot's: a new
// machine installing the leader's, or this one's own on start when its
// store lacks some of it.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReader(rc)
	index, err := readSnapshotHeader(r)
	if err != nil {
		return err
	}
	if err := f.store.Restore(context.Background(), r); err != nil {
		return err
	}
	f.mu.Lock()
	f.ahead = false
	f.mu.Unlock()
	f.took(index, true)
	return nil
}

// scratchPattern names snapshots' scratch files in the raft directory;
// Open removes those a crash left.
const scratchPattern = "fsm-snapshot-*.tmp"

// fileSnapshot is a snapshot in a scratch file.
type fileSnapshot struct{ file *os.File }

func (s *fileSnapshot) Persist(sink raft.SnapshotSink) error {
	_, err := s.file.Seek(0, io.SeekStart)
	if err == nil {
		_, err = io.Copy(sink, s.file)
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fileSnapshot) Release() {
	s.file.Close()
	os.Remove(s.file.Name())
}

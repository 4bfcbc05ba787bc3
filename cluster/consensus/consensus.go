// Package consensus keeps pier's desired state the same on every machine
// of a cluster. Changes go through a Raft log (hashicorp/raft); each
// machine's own SQLite store is the state machine the log feeds, at the
// log's indexes, so a restarted machine skips what it already has. Store
// is the desired state as the rest of pier uses it: reads from this
// machine's store, changes through the log, forwarded to the leader when
// made on a follower. Nothing outside this package knows Raft is there.
package consensus

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"pier/app"
)

// Local is this machine's store (package store's Store): the state
// machine. The log is its only writer once the machine is in a cluster.
type Local interface {
	app.Watcher
	App(ctx context.Context, name string) (app.App, error)
	Apps(ctx context.Context) ([]app.App, error)
	AppCert(ctx context.Context, app string) (app.AppCert, bool, error)
	Release(ctx context.Context, app string, version int) (app.Release, error)
	Releases(ctx context.Context, app string) ([]app.Release, error)
	Keys(ctx context.Context) ([]app.Key, error)
	KeyByFingerprint(ctx context.Context, fingerprint string) (app.Key, error)
	CronSuspended(ctx context.Context, app string) ([]string, error)
	Setting(ctx context.Context, key string) (string, error)
	AppliedIndex(ctx context.Context) (uint64, error)
	// ApplyAt applies c as log entry index, unless index is at or below
	// the applied index; the applied index is recorded with the change.
	ApplyAt(ctx context.Context, index uint64, c app.Change) (applied bool, err error)
	// Snapshot writes the desired state; Restore replaces it with what
	// Snapshot wrote, and tells watchers to resync.
	Snapshot(ctx context.Context, w io.Writer) error
	Restore(ctx context.Context, r io.Reader) error
}

// Config configures a machine's part in the cluster.
type Config struct {
	// ID names this machine in the cluster for all time (its hostname,
	// say). Required.
	ID string
	// Dir holds the log (raft.db) and snapshots; created if missing.
	// Required.
	Dir string
	// Addr is the "host:port" raft listens on. Required unless Listener
	// is set.
	Addr string
	// Advertise is the "host:port" other machines dial to reach this one;
	// empty means the listener's address, which then must not be
	// unspecified (0.0.0.0).
	Advertise string
	// Listener, if set, replaces listening on Addr; raft closes it on
	// Shutdown.
	Listener net.Listener
	// Dial, if set, opens connections to other machines' raft addresses;
	// nil uses a net.Dialer.
	Dial func(ctx context.Context, address string) (net.Conn, error)
	// ServerTLS and ClientTLS, if set, wrap accepted and dialed raft
	// connections in TLS: mutual TLS when ServerTLS requires client
	// certificates and ClientTLS presents one. Nil means plain TCP. An
	// empty ClientTLS.ServerName is the dialed host.
	ServerTLS, ClientTLS *tls.Config
	// Store is this machine's store. Required.
	Store Local
	// MayVote says whether the machine id may vote (a worker may not);
	// nil lets every machine vote. The voter policy (see Join) promotes
	// only those it allows.
	MayVote func(id string) bool
	// Forwarder sends changes made on a follower to the leader. Nil: a
	// change on a follower fails with ErrNotLeader.
	Forwarder Forwarder
	// Log receives what raft says at warn level and above (its info at
	// debug); nil discards it.
	Log *slog.Logger

	// HeartbeatTimeout is how long a follower waits without hearing from
	// the leader before it stands for election, and how long a candidate
	// waits for votes. Zero means 2s: raft's 1s default doubled, for
	// Raspberry Pis whose SD cards stall on fsync and whose two or four
	// cores may be busy building an app; on a LAN a lost leader is then
	// replaced within about 2–4 s. The leader steps down after half of
	// it without a quorum, and sends heartbeats every tenth of it.
	HeartbeatTimeout time.Duration
	// SnapshotThreshold is how many log entries past the last snapshot
	// make the next one; as many are kept after it, for followers that
	// fell a little behind. Zero means 1024 (pier's state is small, and
	// so are its snapshots).
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks the threshold; zero
	// means 2 minutes.
	SnapshotInterval time.Duration
	// ApplyTimeout bounds how long a change waits for a leader when its
	// context has no deadline. Zero means 10s.
	ApplyTimeout time.Duration
}

// Defaults of Config's tuning.
const (
	defaultHeartbeatTimeout  = 2 * time.Second
	defaultSnapshotThreshold = 1024
	defaultSnapshotInterval  = 2 * time.Minute
	defaultApplyTimeout      = 10 * time.Second
)

// Exported errors callers branch on.
var (
	// ErrNotLeader: the operation must run on the leader, and this
	// machine is not it (or no longer).
	ErrNotLeader = errors.New("not the cluster's leader")
	// ErrBootstrapped: Bootstrap on a machine already in a cluster.
	ErrBootstrapped = errors.New("already part of a cluster")
)

// Consensus is this machine's member of the cluster. Its methods are safe
// for concurrent use.
type Consensus struct {
	id, addr     string
	dir          string
	raft         *raft.Raft
	fsm          *fsm
	store        Local
	forwarder    Forwarder
	mayVote      func(id string) bool
	log          *slog.Logger
	applyTimeout time.Duration
	bolt         *raftboltdb.BoltStore

	leading  atomic.Bool
	done     chan struct{}
	watching sync.WaitGroup
	shutdown sync.Once
	shutErr  error
}

// Open starts this machine's member of the cluster from cfg.Dir: a new
// machine (an empty Dir) waits to be added by a leader or to Bootstrap a
// cluster; a known one rejoins with its log and catches up, skipping the
// entries its store already has. Call Shutdown when done.
//
// A machine whose store holds changes its log does not (a single-machine
// pier with apps) refuses log entries until it either founds a cluster
// with that state (Bootstrap) or installs a leader's snapshot: a machine
// joins a cluster with an empty store.
func Open(cfg Config) (*Consensus, error) {
	if cfg.ID == "" || cfg.Dir == "" || cfg.Store == nil || cfg.Addr == "" && cfg.Listener == nil {
		return nil, errors.New("open consensus: ID, Dir, Store and Addr (or Listener) are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Log = cfg.Log.With("component", "consensus")
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open consensus: %w", err)
	}
	scratch, _ := filepath.Glob(filepath.Join(cfg.Dir, scratchPattern))
	for _, p := range scratch {
		os.Remove(p)
	}
	c, err := open(cfg)
	if err != nil {
		return nil, fmt.Errorf("open consensus: %w", err)
	}
	return c, nil
}

func open(cfg Config) (c *Consensus, err error) {
	hlog := newRaftLogger(cfg.Log)
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer func() {
		if err != nil {
			bolt.Close()
		}
	}()
	logs, err := raft.NewLogCache(64, bolt)
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("open snapshots: %w", err)
	}

	ctx := context.Background()
	applied, err := cfg.Store.AppliedIndex(ctx)
	if err != nil {
		return nil, err
	}
	lastLog, err := bolt.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	lastSnap, snapApplied, err := latestSnapshot(snaps)
	if err != nil {
		return nil, err
	}
	ahead := applied > max(lastLog, lastSnap)
	if ahead {
		cfg.Log.Warn("the store holds changes the log does not: it takes no log entries until Bootstrap or a leader's snapshot",
			"applied", applied, "log", max(lastLog, lastSnap))
	}

	stream, err := newStreamLayer(cfg)
	if err != nil {
		return nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hlog,
	})
	defer func() {
		if err != nil {
			trans.Close()
		}
	}()

	notify := make(chan bool, 16) // raft blocks on a full NotifyCh
	rc := raftConfig(cfg, hlog, notify)
	// The store is durable: when it already holds the latest snapshot's
	// state, restoring that snapshot on start would set it back to that
	// state until the log after it is replayed (stopping what was deployed
	// since, for a moment). Raft replays the log after the snapshot
	// instead, and ApplyAt skips what the store has.
	rc.NoSnapshotRestoreOnStart = lastSnap > 0 && applied >= snapApplied
	f := newFSM(cfg.Store, cfg.Dir, cfg.Log, applied, ahead)
	r, err := raft.NewRaft(rc, f, logs, bolt, snaps, trans)
	if err != nil {
		return nil, err
	}
	if cfg.MayVote == nil {
		cfg.MayVote = func(string) bool { return true }
	}
	timeout := cfg.ApplyTimeout
	if timeout == 0 {
		timeout = defaultApplyTimeout
	}
	c = &Consensus{
		id: cfg.ID, addr: string(stream.advertise), dir: cfg.Dir,
		raft: r, fsm: f, store: cfg.Store, forwarder: cfg.Forwarder, log: cfg.Log, mayVote: cfg.MayVote,
		applyTimeout: timeout, bolt: bolt, done: make(chan struct{}),
	}
	c.watching.Add(1)
	go c.watchLeadership(notify)
	return c, nil
}

// latestSnapshot returns the index of the newest snapshot and the store's
// applied index it holds; zeros if there is none.
func latestSnapshot(snaps raft.SnapshotStore) (index, applied uint64, err error) {
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return 0, 0, err
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		return 0, 0, fmt.Errorf("open snapshot %s: %w", list[0].ID, err)
	}
	defer rc.Close()
	applied, err = readSnapshotHeader(bufio.NewReader(rc))
	if err != nil {
		return 0, 0, fmt.Errorf("snapshot %s: %w", list[0].ID, err)
	}
	return list[0].Index, applied, nil
}

// raftConfig is raft's configuration for cfg; see Config for the choices.
func raftConfig(cfg Config, hlog hclog.Logger, notify chan bool) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	rc.NotifyCh = notify
	hb := cfg.HeartbeatTimeout
	if hb == 0 {
		hb = defaultHeartbeatTimeout
	}
	rc.HeartbeatTimeout = hb
	rc.ElectionTimeout = hb
	rc.LeaderLeaseTimeout = hb / 2
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	if rc.SnapshotThreshold == 0 {
		rc.SnapshotThreshold = defaultSnapshotThreshold
	}
	rc.TrailingLogs = rc.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	if rc.SnapshotInterval == 0 {
		rc.SnapshotInterval = defaultSnapshotInterval
	}
	// A machine removed from the cluster stops, rather than lead a
	// cluster of itself with stale state.
	rc.ShutdownOnRemove = true
	return rc
}

// watchLeadership follows raft's leadership notifications. On winning an
// election the new leader first waits for a barrier, so that its store
// holds every change committed before it acts as leader.
func (c *Consensus) watchLeadership(notify <-chan bool) {
	defer c.watching.Done()
	for {
		select {
		case <-c.done:
			return
		case leader := <-notify:
			if !leader {
				if c.leading.Swap(false) {
					c.log.Info("no longer leading the cluster")
				}
				continue
			}
			for c.raft.State() == raft.Leader {
				err := c.raft.Barrier(c.applyTimeout).Error()
				if err == nil {
					c.leading.Store(true)
					c.log.Info("leading the cluster")
					break
				}
				if errors.Is(err, raft.ErrRaftShutdown) {
					return
				}
				c.log.Warn("barrier after election", "err", err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// Leading reports whether this machine leads the cluster and its store
// holds every change committed before it was elected: only then may it act
// on the desired state as the leader.
func (c *Consensus) Leading() bool { return c.leading.Load() && c.raft.State() == raft.Leader }

// Bootstrap founds a cluster of this one machine, its only voter
// (cluster:init). The cluster's state is the store's: a store that
// already holds changes (a single-machine pier) is installed as the log's
// first snapshot, at an index past the store's, so that machines joining
// later receive it and the log's indexes go on from there. Nothing else
// may change the store meanwhile. ErrBootstrapped if this machine already
// is in a cluster.
func (c *Consensus) Bootstrap(ctx context.Context) error {
	err := c.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: raft.ServerID(c.id), Address: raft.ServerAddress(c.addr)},
	}}).Error()
	applied, aerr := c.store.AppliedIndex(ctx)
	if aerr != nil {
		return fmt.Errorf("bootstrap: %w", aerr)
	}
	// A store ahead of the log after a bootstrap is one whose seeding
	// failed: seed it again.
	if errors.Is(err, raft.ErrCantBootstrap) && applied <= c.raft.LastIndex() {
		return ErrBootstrapped
	}
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if applied == 0 {
		return nil
	}
	if err := c.seed(ctx, applied); err != nil {
		return fmt.Errorf("bootstrap: install the store's state: %w", err)
	}
	return nil
}

// seed installs the store's state as a snapshot at index applied, once
// this machine leads its new cluster.
func (c *Consensus) seed(ctx context.Context, applied uint64) error {
	for c.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Raft restores a snapshot only once its configuration is committed.
	if err := wait(ctx, c.raft.Barrier(c.applyTimeout)); err != nil {
		return err
	}
	f, err := snapshotFile(ctx, c.store, c.dir)
	if err != nil {
		return err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: applied, Size: size}
	return c.raft.Restore(meta, f, c.applyTimeout)
}

// Server is a member of the cluster.
type Server struct {
	ID   string
	Addr string // its raft address
	// Voter: it votes in elections and counts for commits; a non-voter
	// only receives the log.
	Voter bool
}

// Leader is the cluster's leader as this machine knows it; ok is false
// while there is none (an election).
func (c *Consensus) Leader() (leader Server, ok bool) {
	addr, id := c.raft.LeaderWithID()
	if id == "" {
		return Server{}, false
	}
	return Server{ID: string(id), Addr: string(addr)}, true
}

// State is this machine's part now: "Leader", "Follower", "Candidate" or
// "Shutdown".
func (c *Consensus) State() string { return c.raft.State().String() }

// Status is the cluster as one machine sees it (cluster:status).
type Status struct {
	ID      string
	State   string // as State returns it
	Leader  Server // zero while there is no leader
	Servers []Server
	// AppliedIndex is the last log entry this machine's store applied;
	// CommitIndex the last one the cluster committed, as far as this
	// machine knows; LastIndex the last one in its log; SnapshotIndex
	// the last one its newest snapshot holds.
	AppliedIndex, CommitIndex, LastIndex, SnapshotIndex uint64
	// LogApplied is the last log entry of any kind (changes and
	// configuration alike) this machine applied.
	LogApplied uint64
	Term       uint64
	// LastContact is when this machine last heard from the leader; zero
	// on the leader itself and before any contact.
	LastContact time.Time
}

// Stats reports the cluster as this machine sees it.
func (c *Consensus) Stats(ctx context.Context) (Status, error) {
	st := Status{
		ID: c.id, State: c.State(),
		CommitIndex: c.raft.CommitIndex(), LastIndex: c.raft.LastIndex(), Term: c.raft.CurrentTerm(),
		LogApplied: c.raft.AppliedIndex(),
	}
	st.SnapshotIndex, _ = strconv.ParseUint(c.raft.Stats()["last_snapshot_index"], 10, 64)
	st.Leader, _ = c.Leader()
	if c.raft.State() != raft.Leader {
		st.LastContact = c.raft.LastContact()
	}
	var err error
	if st.AppliedIndex, err = c.store.AppliedIndex(ctx); err != nil {
		return Status{}, err
	}
	if st.Servers, err = c.Servers(); err != nil {
		return Status{}, err
	}
	return st, nil
}

// Shutdown stops this machine's member: it leaves raft (without leaving
// the cluster: see RemoveServer) and closes the log. The store stays open
// for the caller to close. Later calls return the first's result.
func (c *Consensus) Shutdown() error {
	c.shutdown.Do(func() {
		close(c.done)
		err := c.raft.Shutdown().Error()
		c.watching.Wait()
		c.shutErr = errors.Join(err, c.bolt.Close())
	})
	return c.shutErr
}

// WaitApplied waits until this machine applied the log up to index
// (changes and configuration entries alike), or ctx ends.
func (c *Consensus) WaitApplied(ctx context.Context, index uint64) error {
	for c.raft.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("this machine applied the log up to %d of %d: %w", c.raft.AppliedIndex(), index, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Taken is the index of the last entry this machine's store took.
func (c *Consensus) Taken() uint64 {
	c.fsm.mu.Lock()
	defer c.fsm.mu.Unlock()
	return c.fsm.index
}

// WaitTaken returns once this machine's store took the entry at index
// (see Taken), or ctx ends.
func (c *Consensus) WaitTaken(ctx context.Context, index uint64) error {
	return c.fsm.wait(ctx, index)
}

// Package members tells each machine of a cluster which machines there
// are, whether they are up, and how loaded each one is. It gossips with
// hashicorp/memberlist (v0.6.0, SWIM): nothing goes through the raft log,
// so a machine's free memory changing every few seconds costs the cluster
// a few UDP packets and never a log entry, and membership keeps working
// while raft has no leader.
//
// Each machine's Load rides in its memberlist node metadata (at most 512
// bytes; JSON with short keys, about 100 in practice). The Config's Load
// function is read every Refresh and re-gossiped only when what would be
// sent changed; memory and disk travel in whole MiB and the load average
// to two decimals, so that small churn is not a change.
//
// # States
//
// A Member is "alive", "suspect", "failed" or "left", as this machine sees
// it. memberlist v0.6.0 reports joins, metadata updates and departures to
// its delegates, but not suspicion, and does not say whether a departed
// node left or failed (Node.State is never filled in). So:
//
//   - "failed" is memberlist's dead: its probes and its peers' went
//     unanswered through the suspicion timeout;
//   - "left" is a machine that called Leave: Leave first gossips its
//     metadata with a leaving mark, then memberlist's leave message, and
//     a machine seen with the mark is "left" from then on, whichever way
//     it goes;
//   - "suspect" is this machine's own view: memberlist still counts the
//     machine in, but it has answered none of this machine's probes for
//     about two rounds of probing (2n+1 probe intervals with n peers,
//     stretched as memberlist's health score stretches its probing). It
//     may be suspect here and alive elsewhere.
//
// Seen is when this machine last heard from the member: it joined, its
// metadata changed, or it answered a probe. Becoming suspect or failed
// does not move it. A failed or left member is forgotten a day after it
// was last seen, unless it comes back.
//
// # Failure detection
//
// memberlist.DefaultLANConfig with probing twice as fast: a probe every
// 500 ms (LAN default 1 s) that fails after 250 ms without a direct ack
// (500 ms), then indirect and TCP probes until the next interval, and the
// default suspicion of 4 probe intervals scaled by log10 of the cluster's
// size (2 s below ten machines). With three machines on loopback a stopped
// machine was "failed" on both others 2.8–3.8 s after it stopped (ten
// runs), and suspect here 0.5–1 s before that; with four or more, suspicion starts at six times that and shrinks as other
// machines confirm it, which they do within a probe round or two. The
// cost is two probes a second from each machine, each one small UDP
// packet and its ack.
//
// # Security
//
// Gossip is always encrypted and authenticated with a 32-byte AES-256
// key (NewKey); memberlist refuses packets and streams that are not
// sealed with it, so a machine with another key, or none, cannot join or
// be heard. What a peer sends is bounded: metadata past 512 bytes,
// malformed or out of range shows as a zero Load, and is logged once.
//
// memberlist logs through the Config's slog.Logger: its warnings and
// errors at warn, its info at debug, its debug not at all.
package members

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// States of a Member.
const (
	Alive   = "alive"
	Suspect = "suspect"
	Failed  = "failed"
	Left    = "left"
)

// Member is a machine of the cluster as this machine sees it.
type Member struct {
	Name   string // unique in the cluster
	Gossip string // its gossip address, host:port: what Join takes
	// Load is what it last gossiped; zero if that did not decode.
	Load  Load
	State string // Alive, Suspect, Failed or Left
	// Seen is when this machine last heard from it (see the package
	// documentation); for this machine itself, when Load was last read.
	Seen time.Time
}

// Config configures this machine's membership.
type Config struct {
	// Name is this machine's name, unique in the cluster. Required.
	Name string
	// BindAddr is the "host:port" gossip listens on, UDP and TCP alike.
	// Port 0 picks a free one (see GossipAddr). Required.
	BindAddr string
	// AdvertiseAddr is the "host:port" the others reach this machine's
	// gossip on. Empty means the bound address, where a host of 0.0.0.0
	// makes memberlist pick one of the machine's private IPs; a port of 0
	// means the bound port.
	AdvertiseAddr string
	// Key encrypts and authenticates all gossip: exactly 32 bytes
	// (AES-256), the same on every machine. Required.
	Key []byte
	// Load reads this machine's Load. It is called once by Start and
	// then every Refresh from one goroutine; it should not block for
	// long. Required.
	Load func() Load
	// Refresh is how often Load is read; zero means 5 s.
	Refresh time.Duration
	// Log receives membership changes, and memberlist's own log (see the
	// package documentation); nil discards them.
	Log *slog.Logger
}

const (
	defaultRefresh = 5 * time.Second
	// Probing, twice as fast as memberlist's LAN defaults (see the
	// package documentation).
	probeInterval = 500 * time.Millisecond
	probeTimeout  = 250 * time.Millisecond
	suspicionMult = 4
	// updateTimeout bounds how long a refresh waits for its update to be
	// gossiped (which with few machines takes about a second of
	// retransmits); the update goes out anyway.
	updateTimeout = time.Second
	// forgetAfter is how long a failed or left member is kept after it
	// was last seen.
	forgetAfter = 24 * time.Hour
)

var errShutdown = errors.New("membership is shut down")

// Members is this machine's membership. Its methods are safe for
// concurrent use.
type Members struct {
	ml       *memberlist.Memberlist
	name     string
	readLoad func() Load
	log      *slog.Logger

	// writeMu serializes what changes this machine's standing: a
	// refresh's update, Leave and Shutdown. It is held while memberlist
	// is called; mu never is, since memberlist calls the delegates with
	// its own lock held.
	writeMu sync.Mutex
	shut    atomic.Bool

	mu      sync.Mutex
	load    Load   // last Load gossiped
	meta    []byte // its metadata, as NodeMeta gives it; replaced, never changed
	leaving bool
	loadErr string // last error encoding Load, logged once
	members map[string]*member
	subs    []chan struct{}
	closed  bool // subs are closed

	done     chan struct{}
	loop     sync.WaitGroup
	shutdown sync.Once
	shutErr  error
}

// Start joins nothing yet: it listens for gossip on cfg.BindAddr with
// this machine as the only member. Call Join to meet the others, and
// Leave and Shutdown when done.
func Start(cfg Config) (*Members, error) {
	if cfg.Name == "" || cfg.BindAddr == "" || cfg.Load == nil {
		return nil, errors.New("start members: Name, BindAddr and Load are required")
	}
	if len(cfg.Key) != 32 {
		return nil, fmt.Errorf("start members: the gossip key is %d bytes, it must be 32 (AES-256)", len(cfg.Key))
	}
	if cfg.Refresh < 0 {
		return nil, fmt.Errorf("start members: negative Refresh %v", cfg.Refresh)
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = defaultRefresh
	}
	bindHost, bindPort, err := splitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("start members: BindAddr: %w", err)
	}
	advHost, advPort := "", bindPort
	if cfg.AdvertiseAddr != "" {
		if advHost, advPort, err = splitHostPort(cfg.AdvertiseAddr); err != nil {
			return nil, fmt.Errorf("start members: AdvertiseAddr: %w", err)
		}
		if advPort == 0 {
			advPort = bindPort
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	log := cfg.Log.With("component", "members")

	load := cfg.Load()
	meta, err := encodeMeta(load, false)
	if err != nil {
		return nil, fmt.Errorf("start members: %w", err)
	}
	m := &Members{
		name:     cfg.Name,
		readLoad: cfg.Load,
		log:      log,
		load:     load,
		meta:     meta,
		members:  map[string]*member{},
		done:     make(chan struct{}),
	}

	c := memberlist.DefaultLANConfig()
	c.Name = cfg.Name
	c.BindAddr, c.BindPort = bindHost, bindPort
	c.AdvertiseAddr, c.AdvertisePort = advHost, advPort
	c.SecretKey = bytes.Clone(cfg.Key)
	c.GossipVerifyIncoming, c.GossipVerifyOutgoing = true, true
	c.ProbeInterval, c.ProbeTimeout = probeInterval, probeTimeout
	c.SuspicionMult = suspicionMult
	d := delegate{m}
	c.Delegate, c.Events, c.Ping = d, d, d
	c.Logger = newMemberlistLogger(log)
	ml, err := memberlist.Create(c)
	if err != nil {
		return nil, fmt.Errorf("start members: %w", err)
	}
	m.ml = ml
	m.loop.Add(2)
	go m.run(cfg.Refresh)
	go m.watch()
	return m, nil
}

// splitHostPort splits "host:port" and checks the port.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, int(port), nil
}

// Join meets the cluster through peers' gossip addresses (host:port),
// exchanging the full member list with each one it reaches, and returns
// how many it reached. It fails only if it reached none; reaching one is
// enough, and gossip brings the rest.
func (m *Members) Join(peers []string) (int, error) {
	if m.shut.Load() {
		return 0, fmt.Errorf("join: %w", errShutdown)
	}
	n, err := m.ml.Join(peers)
	if err != nil {
		return n, fmt.Errorf("join %s: %w", strings.Join(peers, ", "), err)
	}
	return n, nil
}

// Members returns every member this machine knows of, itself included,
// failed and left ones too, sorted by name.
func (m *Members) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, r := range m.members {
		out = append(out, r.Member)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Member returns the member called name, if this machine knows of it.
func (m *Members) Member(name string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.members[name]
	if !ok {
		return Member{}, false
	}
	return r.Member, true
}

// GossipAddr is this machine's gossip address as the others see it: what
// they Join. With a BindAddr port of 0 it tells which port was picked.
func (m *Members) GossipAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.members[m.name]; ok {
		return r.Gossip
	}
	return ""
}

// Changes returns a channel that receives after members join, change
// state (suspect included) or Load, or are forgotten. Sends never block
// and coalesce: one value may stand for several changes, so read Members
// after each. Each call makes a new channel, for one consumer; all are
// closed by Shutdown.
func (m *Members) Changes() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := make(chan struct{}, 1)
	if m.closed {
		close(c)
		return c
	}
	m.subs = append(m.subs, c)
	return c
}

// Leave departs gracefully: the others see this machine "left" rather
// than "failed". It waits up to timeout (zero: as long as it takes) for
// the announcement to go out. Load is no longer gossiped after it, and a
// machine that left cannot rejoin: Shutdown, then Start again. Calling it
// again does nothing.
func (m *Members) Leave(timeout time.Duration) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if m.shut.Load() {
		return fmt.Errorf("leave: %w", errShutdown)
	}
	m.mu.Lock()
	if m.leaving {
		m.mu.Unlock()
		return nil
	}
	meta, err := encodeMeta(m.load, true)
	if err == nil {
		m.leaving, m.meta = true, meta
	}
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("leave: %w", err) // cannot happen: m.load encoded before
	}

	start := time.Now()
	var errs []error
	if err := m.ml.UpdateNode(timeout); err != nil {
		errs = append(errs, fmt.Errorf("announce leaving: %w", err))
	}
	rest := timeout
	if timeout > 0 {
		rest = max(timeout-time.Since(start), time.Millisecond)
	}
	if err := m.ml.Leave(rest); err != nil {
		errs = append(errs, fmt.Errorf("leave: %w", err))
	}
	return errors.Join(errs...)
}

// Shutdown stops gossip at once, without a word to the others, which see
// this machine "failed" unless Leave came first. Changes channels are
// closed. Calling it again does nothing.
func (m *Members) Shutdown() error {
	m.shutdown.Do(func() {
		close(m.done)
		m.loop.Wait()
		m.writeMu.Lock()
		m.shut.Store(true)
		if err := m.ml.Shutdown(); err != nil {
			m.shutErr = fmt.Errorf("shut down members: %w", err)
		}
		m.writeMu.Unlock()
		m.mu.Lock()
		m.closed = true
		for _, c := range m.subs {
			close(c)
		}
		m.subs = nil
		m.mu.Unlock()
	})
	return m.shutErr
}

// NewKey returns a new random gossip key for Config.Key.
func NewKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("new gossip key: %w", err)
	}
	return k, nil
}

// run reads Load every refresh, until Shutdown.
func (m *Members) run(refresh time.Duration) {
	defer m.loop.Done()
	t := time.NewTicker(refresh)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.refresh()
		}
	}
}

// watch looks for suspects twice every probe interval, until Shutdown.
// It is apart from run, whose updates may wait for gossip.
func (m *Members) watch() {
	defer m.loop.Done()
	t := time.NewTicker(probeInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.sweep(m.ml.GetHealthScore())
		}
	}
}

// refresh reads Load and gossips it if what goes on the wire changed.
func (m *Members) refresh() {
	load := m.readLoad()
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	m.mu.Lock()
	if self, ok := m.members[m.name]; ok {
		self.Seen = time.Now()
	}
	if m.leaving {
		m.mu.Unlock()
		return
	}
	meta, err := encodeMeta(load, false)
	if err != nil {
		if err.Error() != m.loadErr {
			m.log.Warn("this machine's load cannot be gossiped; the others keep the last one", "err", err)
		}
		m.loadErr = err.Error()
		m.mu.Unlock()
		return
	}
	m.loadErr = ""
	if bytes.Equal(meta, m.meta) {
		m.mu.Unlock()
		return
	}
	m.load, m.meta = load, meta
	m.mu.Unlock()
	if err := m.ml.UpdateNode(updateTimeout); err != nil {
		m.log.Debug("load update not gossiped yet", "err", err)
	}
}

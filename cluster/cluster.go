package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"pier/app"
	"pier/cluster/consensus"
	"pier/cluster/members"
	"pier/cluster/pki"
)

// Local is this machine's store: the log's state machine once in a
// cluster, the only store before.
type Local interface {
	consensus.Local
	Apply(ctx context.Context, c app.Change) error
	JoinToken(ctx context.Context, id string) (app.JoinToken, error)
	// Reset empties the desired state: a machine joins a cluster empty
	// and leaves it so.
	Reset(ctx context.Context) error
}

// Config configures this machine's part in a cluster.
type Config struct {
	// Dir holds this machine's cluster identity and log. Required.
	Dir string
	// Name is this machine's name in the cluster, for all time: a
	// lowercase DNS name. Empty means the host name.
	Name string
	// Addr is where the cluster port listens once this machine is in a
	// cluster ("host:port"); Advertise is the address other machines
	// reach it at, empty for Addr's host, or this machine's first
	// non-loopback address if Addr's host is unspecified.
	Addr, Advertise string
	// Gossip is where membership and load gossip listens ("host:port",
	// UDP and TCP), once this machine is in a cluster; empty means port
	// DefaultGossipPort. Its advertised host is the cluster address's.
	Gossip string
	// Store is this machine's store. Required.
	Store Local
	// Memory and Instances measure this machine for its gossiped load:
	// available and total memory in bytes, app processes running. Nil
	// reports zeros.
	Memory    func() (avail, total int64)
	Instances func() int
	// Log receives what the cluster does; nil discards it.
	Log *slog.Logger
	// Apps serves the app requests other machines forward here (the
	// router's ServeForwarded); they carry a certificate of the cluster.
	// Nil refuses them.
	Apps http.Handler
	// Serving counts the instances this machine serves an app's requests
	// with (the router's); nil: none.
	Serving func(app string) int
	// Images serves this machine's app images to the other machines (at
	// ImagesPath, for requests with a certificate of the cluster); nil
	// serves none.
	Images http.Handler
	// Activate makes rel its app's running release on this machine, as a
	// deploy here would: health-gated, recorded once healthy, progress
	// lines to out. Other machines ask for it (ActivateOn); nil refuses.
	Activate func(ctx context.Context, rel app.Release, out io.Writer) error
	// RunOnce runs a one-off container here to its end (the node's): for
	// this machine's RunOnce, and for other machines that ask; nil runs
	// none.
	RunOnce func(ctx context.Context, o app.OneOff) (int, error)
	// Run and Enter run `run` and `enter` here for another machine whose
	// client asked (RunOn, EnterOn); nil refuses them.
	Run   func(ctx context.Context, r app.RunRequest) (int, error)
	Enter func(ctx context.Context, r app.EnterRequest) (int, error)
	// Labels say what this machine offers; apps that name labels in
	// app.json (pier.node_labels) are placed only where they are.
	Labels map[string]string
	// HeartbeatTimeout tunes raft (see consensus.Config); zero is its
	// default.
	HeartbeatTimeout time.Duration
}

// Default ports: the cluster port (TLS) and gossip (UDP and TCP).
const (
	DefaultPort       = 7946
	DefaultGossipPort = 7947
)

// Cluster is this machine's membership of a cluster, or the lack of one.
// Its methods are safe for concurrent use.
type Cluster struct {
	cfg  Config
	log  *slog.Logger
	name string

	// mu is held to read on and, exclusively, to change it: a change
	// made while this machine goes into or out of a cluster waits.
	mu sync.RWMutex
	on *member // nil while this machine is in no cluster
	// leaving is held through cluster:leave, whose apps move without mu.
	leaving sync.Mutex
	catchUp singleflight.Group // CatchUp's questions to the leader
}

// member is this machine's running part of a cluster.
type member struct {
	id      *identity
	keys    *keys
	port    *port
	http    *http.Server
	raft    *consensus.Consensus
	store   *consensus.Store
	client  *http.Client    // mutual TLS to the other machines
	apps    *http.Transport // to the other machines by name, for app requests
	control *http.Transport // to the other machines by name, for their endpoints
	served  *http.Server    // the app requests other machines forward here
	gossip  *members.Members
	done    chan struct{}
}

// New prepares this machine's part in a cluster; Start starts it if this
// machine is in one.
func New(cfg Config) (*Cluster, error) {
	if cfg.Dir == "" || cfg.Store == nil {
		return nil, errors.New("cluster: Dir and Store are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = fmt.Sprintf(":%d", DefaultPort)
	}
	if cfg.Gossip == "" {
		cfg.Gossip = fmt.Sprintf(":%d", DefaultGossipPort)
	}
	name := cfg.Name
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("cluster: this machine's name: %w", err)
		}
		name = strings.ToLower(strings.SplitN(h, ".", 2)[0])
	}
	return &Cluster{cfg: cfg, log: cfg.Log.With("component", "cluster"), name: name}, nil
}

// Start rejoins the cluster this machine is in, if any: its log, its
// port. A machine in no cluster starts nothing.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, err := loadIdentity(c.cfg.Dir)
	if errors.Is(err, errNoIdentity) {
		return nil
	}
	if err != nil {
		return err
	}
	m, err := c.start(id)
	if err != nil {
		return fmt.Errorf("rejoin the cluster: %w", err)
	}
	c.on = m
	c.log.Info("in the cluster", "name", id.Name, "addr", id.Addr)
	return nil
}

// Close stops this machine's part in the cluster (it stays a member:
// the next Start rejoins).
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on == nil {
		return nil
	}
	err := c.on.stop()
	c.on = nil
	return err
}

// Apply makes one change to the desired state: through the cluster's log
// when this machine is in a cluster, else to this machine's store.
func (c *Cluster) Apply(ctx context.Context, ch app.Change) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.on == nil {
		// A machine of a cluster whose part is not running (before Start,
		// after Close) changes nothing: a change applied to its store
		// alone would take an index of the log's.
		if _, err := os.Stat(filepath.Join(c.cfg.Dir, fileNode)); err == nil {
			return errNotRunning
		}
		return c.cfg.Store.Apply(ctx, ch)
	}
	return c.on.store.Apply(ctx, ch)
}

// errNotRunning: a change made while this machine's part in its cluster
// is not running.
var errNotRunning = errors.New("this machine is in a cluster but not connected to it yet (is pier starting or stopping?)")

// start runs this machine's part of the cluster id describes: the port,
// raft behind it.
func (c *Cluster) start(id *identity) (*member, error) {
	k, err := id.keys()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cluster port: %w", err)
	}
	m := &member{id: id, keys: k, done: make(chan struct{})}
	m.port = newPort(ln, pki.ServerTLS(k.cert, k.pool), c.log)
	go m.port.serve()
	tr := &http.Transport{
		TLSClientConfig:     pki.ClientTLS(k.cert, k.pool, ""),
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		TLSHandshakeTimeout: handshakeTimeout,
	}
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	m.client = &http.Client{Transport: tr}
	var gossip atomic.Pointer[members.Members] // set once gossip runs
	raftTLS := pki.ClientTLS(k.cert, k.pool, "")
	raftTLS.NextProtos = []string{alpnRaft}
	m.raft, err = consensus.Open(consensus.Config{
		ID: id.Name, Dir: filepath.Join(c.cfg.Dir, "raft"),
		Listener: m.port.raft, Advertise: id.Addr, ClientTLS: raftTLS,
		Store: c.cfg.Store,
		Forwarder: &consensus.HTTPForwarder{Client: m.client, URL: func(l consensus.Server) string {
			return "https://" + l.Addr + consensus.ForwardPath
		}},
		Log: c.cfg.Log, HeartbeatTimeout: c.cfg.HeartbeatTimeout,
		// Workers run apps and never vote: as gossip says who is one.
		MayVote: func(id string) bool {
			gm := gossip.Load()
			if gm == nil {
				return true
			}
			g, ok := gm.Member(id)
			return !ok || g.Load.Role != string(pki.RoleWorker)
		},
	})
	if err != nil {
		m.port.close()
		return nil, err
	}
	m.store = m.raft.Store()
	m.apps = nodesTransport(m, alpnApps)
	m.control = nodesTransport(m, "http/1.1")
	m.http = &http.Server{
		Handler:           c.handler(m),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
	}
	go m.http.Serve(m.port.http)
	apps := c.cfg.Apps
	if apps == nil {
		apps = http.NotFoundHandler()
	}
	m.served = &http.Server{
		Handler:           apps,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
	}
	go m.served.Serve(m.port.apps)
	m.gossip, err = members.Start(members.Config{
		Name: id.Name, BindAddr: c.cfg.Gossip, AdvertiseAddr: id.Gossip, Key: id.gossip,
		Load: func() members.Load { return c.load(id) }, Log: c.cfg.Log,
	})
	if err != nil {
		m.stop()
		return nil, fmt.Errorf("gossip: %w", err)
	}
	gossip.Store(m.gossip)
	if len(id.Peers) > 0 {
		if _, err := m.gossip.Join(id.Peers); err != nil {
			c.log.Warn("gossip: no peer answered yet", "peers", id.Peers, "err", err)
		}
	}
	go c.rememberPeers(m)
	return m, nil
}

// stop ends this machine's running part: raft, then the port.
func (m *member) stop() error {
	close(m.done)
	if m.gossip != nil {
		m.gossip.Shutdown()
	}
	err := m.raft.Shutdown()
	m.http.Close()
	m.served.Close()
	m.port.close()
	m.client.CloseIdleConnections()
	m.apps.CloseIdleConnections()
	m.control.CloseIdleConnections()
	return err
}

// rememberPeers keeps the gossip addresses of the cluster's live
// machines in node.json, for this machine to rejoin through after a
// restart.
func (c *Cluster) rememberPeers(m *member) {
	changes := m.gossip.Changes()
	for {
		select {
		case <-m.done:
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
		}
		var peers []string
		for _, p := range m.gossip.Members() {
			if p.Name != m.id.Name && p.State == members.Alive && p.Gossip != "" {
				peers = append(peers, p.Gossip)
			}
		}
		if len(peers) == 0 || slices.Equal(peers, m.id.Peers) {
			continue
		}
		c.mu.Lock()
		select {
		case <-m.done: // it left: its identity is gone
			c.mu.Unlock()
			return
		default:
		}
		m.id.Peers = peers
		err := m.id.saveNode(c.cfg.Dir)
		c.mu.Unlock()
		if err != nil {
			c.log.Warn("remember the cluster's machines", "err", err)
		}
	}
}

// gossipAddr is the advertised gossip address of a machine whose cluster
// address is addr.
func (c *Cluster) gossipAddr(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	_, p, err := net.SplitHostPort(c.cfg.Gossip)
	if err != nil {
		p = fmt.Sprint(DefaultGossipPort)
	}
	return net.JoinHostPort(host, p)
}

// advertise is the cluster address other machines reach this one at.
func (c *Cluster) advertise() (string, error) {
	if c.cfg.Advertise != "" {
		return c.cfg.Advertise, nil
	}
	host, p, err := net.SplitHostPort(c.cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("cluster address %q: %w", c.cfg.Addr, err)
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return c.cfg.Addr, nil
	}
	if host != "" && net.ParseIP(host) == nil {
		return c.cfg.Addr, nil
	}
	ip, err := firstAddress()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(ip.String(), p), nil
}

// firstAddress is this machine's first global unicast address, IPv4
// first; loopback if it has none.
func firstAddress() (net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("this machine's addresses: %w", err)
	}
	var v6 net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			return n.IP, nil
		}
		if v6 == nil {
			v6 = n.IP
		}
	}
	if v6 != nil {
		return v6, nil
	}
	return net.IPv4(127, 0, 0, 1), nil
}

// ips are the IP addresses of a host:port, for a node certificate.
func ips(addr string) []net.IP {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}
	}
	return nil
}

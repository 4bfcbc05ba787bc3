package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"pier/app"
	"pier/cluster/consensus"
	"pier/cluster/members"
	"pier/cluster/pki"
)

// Paths on the cluster port.
const (
	pathJoin    = "/cluster/v1/join"    // a joiner, pinned: token in, certificate out
	pathAdmit   = "/cluster/v1/admit"   // a new machine asks to be added to the log
	pathRemove  = "/cluster/v1/remove"  // a machine asks to be removed
	pathServing = "/cluster/v1/serving" // how many instances serve an app here
)

type servingResponse struct {
	Instances int `json:"instances"`
}

// ImagesPath is where Config.Images is served on the cluster port.
const ImagesPath = "/cluster/v1/images"

// maxRequest bounds what the cluster port reads of a request body.
const maxRequest = 64 << 10

type joinRequest struct {
	Token string `json:"token"`
	Name  string `json:"name"`
	CSR   []byte `json:"csr"`  // DER
	Addr  string `json:"addr"` // the joiner's advertised cluster address
}

type joinResponse struct {
	CACert    []byte   `json:"ca_cert"` // PEM
	Cert      []byte   `json:"cert"`    // PEM
	CAKey     []byte   `json:"ca_key,omitempty"`
	GossipKey []byte   `json:"gossip_key"`
	Role      pki.Role `json:"role"`
	Peers     []string `json:"peers"` // gossip addresses of live machines
}

// admitRequest asks the leader to add (or remove) a machine.
type admitRequest struct {
	Name string   `json:"name"`
	Addr string   `json:"addr"`
	Role pki.Role `json:"role"`
}

type admitResponse struct {
	Index uint64 `json:"index"` // the leader's last index once the machine is in
}

type errorResponse struct {
	Error string `json:"error"`
}

// handler serves the cluster port's HTTP.
func (c *Cluster) handler(m *member) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathJoin, func(w http.ResponseWriter, r *http.Request) { c.serveJoin(m, w, r) })
	mux.Handle(consensus.ForwardPath, nodesOnly(m.raft.ForwardHandler()))
	mux.Handle("GET "+pathTaken, nodesOnly(serveTaken(m)))
	mux.Handle("POST "+pathActivate, nodesOnly(http.HandlerFunc(c.serveActivate)))
	mux.Handle("POST "+pathRun, nodesOnly(http.HandlerFunc(c.serveRun)))
	mux.Handle("GET "+pathShell, nodesOnly(http.HandlerFunc(c.serveShell)))
	mux.Handle("GET "+pathServing, nodesOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		if c.cfg.Serving != nil {
			n = c.cfg.Serving(r.URL.Query().Get("app"))
		}
		writeJSON(w, http.StatusOK, servingResponse{Instances: n})
	})))
	if c.cfg.Images != nil {
		mux.Handle(ImagesPath+"/", nodesOnly(http.StripPrefix(ImagesPath, c.cfg.Images)))
	}
	mux.Handle("POST "+pathAdmit, nodesOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.serveAdmit(m, w, r, false)
	})))
	mux.Handle("POST "+pathRemove, nodesOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.serveAdmit(m, w, r, true)
	})))
	return mux
}

// nodesOnly lets through requests that carry a certificate of the
// cluster.
func nodesOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := pki.PeerName(r.TLS); err != nil {
			writeJSON(w, http.StatusForbidden, errorResponse{err.Error()})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// serveJoin admits a joiner that presents a valid token: the token is
// spent through the log (so that one join alone gets through), and the
// joiner's key is certified.
func (c *Cluster) serveJoin(m *member, w http.ResponseWriter, r *http.Request) {
	fail := func(status int, format string, args ...any) {
		c.log.Warn("join refused", "remote", r.RemoteAddr, "err", fmt.Sprintf(format, args...))
		writeJSON(w, status, errorResponse{fmt.Sprintf(format, args...)})
	}
	if m.keys.ca == nil {
		fail(http.StatusForbidden, "%s is a worker and cannot admit machines: join through a server's address "+
			"(pier nodes:list shows which are servers)", m.id.Name)
		return
	}
	var req joinRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest)).Decode(&req); err != nil {
		fail(http.StatusBadRequest, "bad join request: %v", err)
		return
	}
	tok, err := pki.ParseToken(req.Token)
	if err != nil {
		fail(http.StatusBadRequest, "%v", err)
		return
	}
	if tok.Pin != m.keys.pin {
		fail(http.StatusForbidden, "%v", pki.ErrTokenUnknown)
		return
	}
	if _, _, err := net.SplitHostPort(req.Addr); err != nil || len(ips(req.Addr)) == 0 {
		fail(http.StatusBadRequest, "the joiner's cluster address %q is not IP:port; set pier serve --cluster-advertise", req.Addr)
		return
	}
	ctx := r.Context()
	stored, err := c.cfg.Store.JoinToken(ctx, tok.ID)
	if errors.Is(err, app.ErrNotFound) {
		fail(http.StatusForbidden, "%v", pki.ErrTokenUnknown)
		return
	}
	if err != nil {
		fail(http.StatusInternalServerError, "read the token: %v", err)
		return
	}
	rec := pki.TokenRecord{ID: stored.ID, SecretHash: stored.SecretHash, Role: pki.Role(stored.Role),
		Expires: stored.Expires, Used: stored.Used}
	if err := rec.Check(tok, time.Now()); err != nil {
		fail(http.StatusForbidden, "%v", err)
		return
	}
	servers, err := m.raft.Servers()
	if err != nil {
		fail(http.StatusServiceUnavailable, "%v", err)
		return
	}
	if slices.ContainsFunc(servers, func(s consensus.Server) bool { return s.ID == req.Name }) {
		fail(http.StatusConflict, "a machine named %s is already in this cluster: give this one another name "+
			"(pier serve --node-name), or remove the other first", req.Name)
		return
	}
	if err := c.Apply(ctx, app.UseJoinToken{ID: tok.ID}); err != nil {
		if errors.Is(err, app.ErrExists) {
			err = pki.ErrTokenUsed
		} else if errors.Is(err, app.ErrNotFound) {
			err = pki.ErrTokenUnknown
		}
		fail(http.StatusForbidden, "%v", err)
		return
	}
	cert, err := m.keys.ca.Sign(req.CSR, req.Name, ips(req.Addr), nodeCertTTL, time.Now())
	if err != nil {
		fail(http.StatusBadRequest, "%v", err)
		return
	}
	resp := joinResponse{CACert: m.id.caCert, Cert: cert, GossipKey: m.id.gossip, Role: rec.Role,
		Peers: []string{m.id.Gossip}}
	for _, p := range m.gossip.Members() {
		if p.Name != m.id.Name && p.State == members.Alive && p.Gossip != "" && len(resp.Peers) < 16 {
			resp.Peers = append(resp.Peers, p.Gossip)
		}
	}
	if rec.Role == pki.RoleServer {
		resp.CAKey = m.id.caKey
	}
	c.log.Info("certified a joining machine", "name", req.Name, "addr", req.Addr, "role", rec.Role)
	writeJSON(w, http.StatusOK, resp)
}

// ClusterJoin joins this machine to the cluster at joinURL with token
// (pier cluster:join). The server's certificate must match the token's
// pin before anything is sent. This machine must hold no apps: it takes
// the cluster's desired state whole, and its own (SSH keys, settings) is
// replaced by the cluster's.
func (c *Cluster) ClusterJoin(ctx context.Context, joinURL, token string, out io.Writer) (app.ClusterStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on != nil {
		return app.ClusterStatus{}, errInCluster
	}
	u, err := url.Parse(joinURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
		return app.ClusterStatus{}, fmt.Errorf("join URL %q: want https://HOST:PORT, a server's cluster address", joinURL)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), fmt.Sprint(DefaultPort))
	}
	tok, err := pki.ParseToken(token)
	if err != nil {
		return app.ClusterStatus{}, err
	}
	apps, err := c.cfg.Store.Apps(ctx)
	if err != nil {
		return app.ClusterStatus{}, err
	}
	if len(apps) > 0 {
		var names []string
		for _, a := range apps {
			names = append(names, a.Name)
		}
		return app.ClusterStatus{}, fmt.Errorf("this machine has %d app(s) (%s): a machine joins a cluster empty; "+
			"push them to the cluster once this machine is in it, and destroy them here first (apps:destroy)",
			len(apps), strings.Join(names, ", "))
	}
	addr, err := c.advertise()
	if err != nil {
		return app.ClusterStatus{}, err
	}
	if len(ips(addr)) == 0 {
		return app.ClusterStatus{}, fmt.Errorf("this machine's cluster address %q is not IP:port: set pier serve --cluster-advertise", addr)
	}

	fmt.Fprintf(out, "-----> Joining the cluster at %s as %s (%s)\n", u.Host, c.name, addr)
	key, err := pki.NewNodeKey()
	if err != nil {
		return app.ClusterStatus{}, err
	}
	csr, err := pki.CSR(key, c.name)
	if err != nil {
		return app.ClusterStatus{}, fmt.Errorf("this machine's certificate request (is %q a valid name? set pier serve --node-name): %w", c.name, err)
	}
	pinned := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: pki.PinnedTLS(tok.Pin), TLSHandshakeTimeout: handshakeTimeout,
	}}
	var resp joinResponse
	err = post(ctx, pinned, "https://"+u.Host+pathJoin, joinRequest{Token: token, Name: c.name, CSR: csr, Addr: addr}, &resp)
	if err != nil {
		return app.ClusterStatus{}, joinError(u.Host, err)
	}
	id := &identity{Name: c.name, Role: resp.Role, Addr: addr, Gossip: c.gossipAddr(addr), Peers: resp.Peers, Joined: time.Now().UTC(),
		caCert: resp.CACert, caKey: resp.CAKey, nodeCert: resp.Cert, gossip: resp.GossipKey}
	if id.nodeKey, err = pki.EncodeKeyPEM(key); err != nil {
		return app.ClusterStatus{}, err
	}
	if _, err := id.keys(); err != nil {
		return app.ClusterStatus{}, fmt.Errorf("the server's answer: %w", err)
	}
	fmt.Fprintf(out, "-----> Certified by the cluster as a %s\n", resp.Role)
	// The cluster's state replaces this machine's: keys and settings
	// recorded here alone would collide with the log's indexes.
	if keys, err := c.cfg.Store.Keys(ctx); err == nil && len(keys) > 0 {
		fmt.Fprintf(out, "-----> This machine's %d SSH key(s) give way to the cluster's (ssh-keys:list shows them)\n", len(keys))
	}
	if err := c.cfg.Store.Reset(ctx); err != nil {
		return app.ClusterStatus{}, err
	}
	if err := id.save(c.cfg.Dir); err != nil {
		return app.ClusterStatus{}, fmt.Errorf("save the cluster's keys: %w", err)
	}
	m, err := c.start(id)
	if err != nil {
		removeIdentity(c.cfg.Dir)
		return app.ClusterStatus{}, err
	}
	var admitted admitResponse
	err = post(ctx, m.client, "https://"+u.Host+pathAdmit, admitRequest{Name: c.name, Addr: addr, Role: resp.Role}, &admitted)
	if err == nil {
		fmt.Fprintln(out, "-----> Added to the replicated log; catching up")
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = m.raft.WaitApplied(wctx, admitted.Index)
		cancel()
	}
	if err != nil {
		m.stop()
		removeIdentity(c.cfg.Dir)
		return app.ClusterStatus{}, fmt.Errorf("join: %w", err)
	}
	c.on = m
	c.log.Info("joined the cluster", "name", c.name, "via", u.Host)
	return c.status(ctx, m)
}

// joinError says what went wrong reaching a server to join through.
func joinError(host string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		var op *net.OpError
		var rec tls.RecordHeaderError
		switch {
		case errors.Is(err, pki.ErrPinMismatch):
			return fmt.Errorf("%s is not the cluster this token is for: %w; check the address, or ask for a new token", host, err)
		case errors.As(err, &rec):
			return fmt.Errorf("%s does not speak TLS: is it a pier cluster port (--cluster, %d by default)?", host, DefaultPort)
		case errors.As(err, &op) && op.Op == "dial":
			return fmt.Errorf("cannot reach %s (%v): is pier running there, and in a cluster (pier cluster:init)?", host, op.Err)
		}
		return fmt.Errorf("join through %s: %v", host, uerr.Err)
	}
	return fmt.Errorf("join refused by %s: %w", host, err)
}

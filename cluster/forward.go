package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"pier/cluster/consensus"
	"pier/cluster/pki"
)

// Self is this machine's name in its cluster, "" while it is in none.
func (c *Cluster) Self() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.on == nil {
		return ""
	}
	return c.on.id.Name
}

// Leads reports whether this machine leads its cluster (and has caught up
// with it), or is in none: whether it is the one to act for the whole
// cluster, as cron does.
func (c *Cluster) Leads() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.on == nil || c.on.raft.Leading()
}

// Serving returns the machines of nodes (nil: every other machine of the
// cluster) that serve app: route its requests to instances of their own
// (node.Peers).
func (c *Cluster) Serving(ctx context.Context, app string, nodes []string) []string {
	if nodes == nil {
		nodes = c.Others()
	}
	client := c.Client()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var serving []string
	for _, n := range nodes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+n+pathServing+"?app="+url.QueryEscape(app), nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		var s servingResponse
		err = json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&s)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && s.Instances > 0 {
			serving = append(serving, n)
		}
	}
	return serving
}

// Others names the cluster's other machines, as the log's configuration
// lists them; none while this machine is in no cluster.
func (c *Cluster) Others() []string {
	c.mu.RLock()
	m := c.on
	c.mu.RUnlock()
	if m == nil {
		return nil
	}
	servers, err := m.raft.Servers()
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range servers {
		if s.ID != m.id.Name {
			out = append(out, s.ID)
		}
	}
	return out
}

// Transport sends requests for https://NODE/... to the cluster port of
// the machine named NODE, over mutual TLS: how routers forward requests
// to the machines that run an app. While this machine is in no cluster
// every request fails.
func (c *Cluster) Transport() http.RoundTripper { return nodeTransport{c, false} }

// Client sends requests for https://NODE/cluster/v1/... to the cluster's
// own endpoints on the machine named NODE (ImagesPath, say), over mutual
// TLS.
func (c *Cluster) Client() *http.Client { return &http.Client{Transport: nodeTransport{c, true}} }

type nodeTransport struct {
	c       *Cluster
	control bool // the cluster's endpoints, not apps
}

func (t nodeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.c.mu.RLock()
	m := t.c.on
	t.c.mu.RUnlock()
	if m == nil {
		return nil, errNoIdentity
	}
	if t.control {
		return m.control.RoundTrip(req)
	}
	return m.apps.RoundTrip(req)
}

// nodesTransport dials machines by name, speaking proto: the log's
// configuration gives their addresses, their certificates must carry
// that name.
func nodesTransport(m *member, proto string) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			name, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			servers, err := m.raft.Servers()
			if err != nil {
				return nil, err
			}
			i := slices.IndexFunc(servers, func(s consensus.Server) bool { return s.ID == name })
			if i < 0 {
				return nil, fmt.Errorf("no machine %s in the cluster", name)
			}
			conn, err := dialer.DialContext(ctx, "tcp", servers[i].Addr)
			if err != nil {
				return nil, err
			}
			cfg := pki.ClientTLS(m.keys.cert, m.keys.pool, name)
			cfg.NextProtos = []string{proto}
			tc := tls.Client(conn, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, fmt.Errorf("tls handshake with %s: %w", name, err)
			}
			return tc, nil
		},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"pier/app"
	"pier/cluster/pki"
)

// nodeCertTTL is how long a node certificate is valid (the CA's own
// lifetime caps it).
const nodeCertTTL = 5 * 365 * 24 * time.Hour

// errInCluster: cluster:init or cluster:join on a machine already in one.
var errInCluster = errors.New("this machine is already in a cluster: pier cluster:status shows it " +
	"(pier cluster:leave first to start over)")

// ClusterInit founds a cluster of this one machine (pier cluster:init):
// the cluster's CA, this machine's certificate, the gossip key, and the
// log, bootstrapped with this machine's desired state as it is. It returns
// once this machine leads the cluster.
func (c *Cluster) ClusterInit(ctx context.Context) (app.ClusterStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on != nil {
		return app.ClusterStatus{}, errInCluster
	}
	addr, err := c.advertise()
	if err != nil {
		return app.ClusterStatus{}, err
	}
	now := time.Now()
	ca, err := pki.NewCA("pier cluster "+c.name, now)
	if err != nil {
		return app.ClusterStatus{}, err
	}
	id := &identity{Name: c.name, Role: pki.RoleServer, Addr: addr, Gossip: c.gossipAddr(addr), Joined: now.UTC(),
		caCert: ca.CertPEM(), caKey: ca.KeyPEM()}
	key, err := pki.NewNodeKey()
	if err != nil {
		return app.ClusterStatus{}, err
	}
	csr, err := pki.CSR(key, c.name)
	if err != nil {
		return app.ClusterStatus{}, err
	}
	if id.nodeCert, err = ca.Sign(csr, c.name, ips(addr), nodeCertTTL, now); err != nil {
		return app.ClusterStatus{}, fmt.Errorf("this machine's certificate (is %q a valid name? set pier serve --node-name): %w", c.name, err)
	}
	if id.nodeKey, err = pki.EncodeKeyPEM(key); err != nil {
		return app.ClusterStatus{}, err
	}
	id.gossip = make([]byte, 32)
	if _, err := rand.Read(id.gossip); err != nil {
		return app.ClusterStatus{}, err
	}
	if err := id.save(c.cfg.Dir); err != nil {
		return app.ClusterStatus{}, fmt.Errorf("save the cluster's keys: %w", err)
	}
	m, err := c.start(id)
	if err == nil {
		if err = m.raft.Bootstrap(ctx); err == nil {
			err = waitLeading(ctx, m)
		}
		if err != nil {
			m.stop()
		}
	}
	if err != nil {
		removeIdentity(c.cfg.Dir)
		return app.ClusterStatus{}, fmt.Errorf("cluster:init: %w", err)
	}
	c.on = m
	c.log.Info("founded a cluster", "name", c.name, "addr", addr, "pin", m.keys.pin)
	// What ran here before goes on running here.
	apps, err := c.cfg.Store.Apps(ctx)
	if err != nil {
		return app.ClusterStatus{}, err
	}
	for _, a := range apps {
		if a.Release > 0 && len(a.Placement) == 0 {
			if err := m.store.Apply(ctx, app.SetPlacement{App: a.Name, Nodes: []string{c.name}}); err != nil {
				return app.ClusterStatus{}, fmt.Errorf("place %s on this machine: %w", a.Name, err)
			}
		}
	}
	return c.status(ctx, m)
}

// waitLeading waits until m leads its cluster of one.
func waitLeading(ctx context.Context, m *member) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !m.raft.Leading() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("this machine did not become the cluster's leader: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// ClusterToken makes a one-time token that admits one machine as role
// for ttl (pier cluster:token). The cluster keeps the token's record,
// not its secret.
func (c *Cluster) ClusterToken(ctx context.Context, role string, ttl time.Duration) (string, time.Time, error) {
	r, err := pki.ParseRole(role)
	if err != nil {
		return "", time.Time{}, err
	}
	c.mu.RLock()
	m := c.on
	c.mu.RUnlock()
	if m == nil {
		return "", time.Time{}, errors.New("this machine is not in a cluster: pier cluster:init founds one")
	}
	tok, rec, err := pki.NewToken(m.keys.pin, r, ttl, time.Now())
	if err != nil {
		return "", time.Time{}, err
	}
	err = c.Apply(ctx, app.AddJoinToken{Token: app.JoinToken{
		ID: rec.ID, SecretHash: rec.SecretHash, Role: string(rec.Role), Expires: rec.Expires,
	}})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("record the token: %w", err)
	}
	return tok, rec.Expires, nil
}

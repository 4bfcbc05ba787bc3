package cluster

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"pier/cluster/members"
)

// PeerAddrs are the IPv4 addresses of the cluster's other machines that
// gossip has alive (or suspect): the hosts of their cluster and gossip
// addresses, names resolved. None while this machine is in no cluster.
func (c *Cluster) PeerAddrs(ctx context.Context) []netip.Addr {
	c.mu.RLock()
	m := c.on
	c.mu.RUnlock()
	if m == nil || m.gossip == nil {
		return nil
	}
	var out []netip.Addr
	for _, g := range m.gossip.Members() {
		if g.Name == m.id.Name || g.State != members.Alive && g.State != members.Suspect {
			continue
		}
		for _, hp := range []string{g.Load.Addr, g.Gossip} {
			host, _, err := net.SplitHostPort(hp)
			if err != nil {
				continue
			}
			if a, err := netip.ParseAddr(host); err == nil {
				out = append(out, a.Unmap())
				continue
			}
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			addrs, _ := net.DefaultResolver.LookupNetIP(lctx, "ip4", host)
			cancel()
			for _, a := range addrs {
				out = append(out, a.Unmap())
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// WatchPeers calls set with PeerAddrs at once and whenever they change,
// checking every interval (this machine may join or leave a cluster
// meanwhile), until ctx ends. A call set fails is made again at the next
// check. It is how containers' egress rules follow the cluster's
// membership (runtime's SetPeers).
func (c *Cluster) WatchPeers(ctx context.Context, interval time.Duration, set func([]netip.Addr) error) {
	var last []netip.Addr
	applied := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if addrs := c.PeerAddrs(ctx); !applied || !slices.Equal(addrs, last) {
			if err := set(addrs); err != nil {
				c.log.Warn("open the router ports of the cluster's machines to apps", "peers", addrs, "err", err)
				applied = false
			} else {
				last, applied = addrs, true
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

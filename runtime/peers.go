package runtime

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/coreos/go-iptables/iptables"
)

// SetPeers opens the router's ports (NetworkConfig.HostPorts) of the
// cluster's other machines, at addrs, to containers, and refuses every
// other port of those addresses: an app calls another by its public
// name, which on a LAN resolves to one of the cluster's machines, and
// reaches nothing else of them. (This machine's own addresses, whatever
// network they are on, take the host's rules: the router's ports only.)
// A request arriving that way comes from the container subnet, as any
// from a container does.
//
// Each call replaces the addresses of the last; only IPv4 addresses
// outside loopback, multicast and the container subnet are taken. The
// chain is changed rule by rule, never emptied, so no connection passes
// the firewall while it changes. Safe for concurrent use.
func (c *Containerd) SetPeers(addrs []netip.Addr) error { return c.net.setPeers(addrs) }

func (n *network) setPeers(addrs []netip.Addr) error {
	subnet, err := netip.ParsePrefix(n.cfg.Subnet)
	if err != nil {
		return fmt.Errorf("peers: subnet %q: %w", n.cfg.Subnet, err)
	}
	var peers []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() && !a.IsLoopback() && !a.IsMulticast() && !a.IsUnspecified() && !subnet.Contains(a) {
			peers = append(peers, a)
		}
	}
	slices.SortFunc(peers, netip.Addr.Compare)
	peers = slices.Compact(peers)

	n.mu.Lock()
	defer n.mu.Unlock()
	if slices.Equal(peers, n.peers) {
		return nil
	}
	ipt, err := iptables.New()
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	chain := outChain(n.cfg.Bridge)
	at := n.peersAt()
	for _, p := range peers {
		if slices.Contains(n.peers, p) {
			continue
		}
		// Inserted last rule first, at the same place: the refusal
		// goes in before the ports open.
		rules := n.peerRules(p)
		for i := len(rules) - 1; i >= 0; i-- {
			if err := ipt.Insert("filter", chain, at, rules[i]...); err != nil {
				return fmt.Errorf("peers: %s: %w", chain, err)
			}
		}
		n.peers = append(n.peers, p)
	}
	for _, p := range slices.Clone(n.peers) {
		if slices.Contains(peers, p) {
			continue
		}
		// The ports close before the refusal goes.
		for _, r := range n.peerRules(p) {
			if err := ipt.DeleteIfExists("filter", chain, r...); err != nil {
				return fmt.Errorf("peers: %s: %w", chain, err)
			}
		}
		n.peers = slices.DeleteFunc(n.peers, func(x netip.Addr) bool { return x == p })
	}
	slices.SortFunc(n.peers, netip.Addr.Compare)
	return nil
}

// peersAt is the position (from 1) of the peers' first rule in
// outChain: after the established connections, the container subnet, the
// resolvers and the allowed networks (see outRules). An allowed network
// that covers a peer keeps all of it open.
func (n *network) peersAt() int {
	return 3 + 2*len(n.resolvers) + len(n.cfg.AllowNets)
}

// peerRules are outChain's rules for the peer at a: the router's ports
// pass, the rest of a is refused.
func (n *network) peerRules(a netip.Addr) [][]string {
	dst := a.String() + "/32"
	var rules [][]string
	for _, p := range n.cfg.HostPorts {
		rules = append(rules, []string{"-d", dst, "-p", "tcp", "--dport", strconv.Itoa(p), "-j", "RETURN"})
	}
	return append(rules, []string{"-d", dst, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"})
}

package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	gocni "github.com/containerd/go-cni"
	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
)

// Instances are isolated from each other, from the host and from the
// networks around it, by default:
//
//   - Every instance's port on the bridge is isolated (the bridge's
//     "isolated" port flag): isolated ports exchange no frames, so an
//     instance reaches no other instance's container, while the host (the
//     bridge itself) and, through it, the outside stay reachable.
//   - New connections from the bridge to the host itself are refused, except
//     to DNS and to NetworkConfig.HostPorts (the router's ports): apps reach
//     each other, and pier, only through the router.
//   - New connections through the host to private and special networks
//     (privateNets: the LAN, cloud metadata at 169.254.169.254) and to the
//     container subnet are refused, except to the host's DNS resolvers on
//     port 53, to NetworkConfig.AllowNets and to the router's ports of the
//     cluster's other machines (SetPeers, peers.go), whose other ports are
//     refused wherever they are. The internet stays reachable.
//   - Containers have no IPv6: it is off in their network namespaces
//     (network.create), and the bridge refuses every IPv6 packet to the
//     host or through it, for namespaces made before that.
//
// The rules live in two chains per bridge, in iptables and ip6tables:
// hostChain, jumped to from INPUT, and outChain, jumped to from FORWARD,
// for packets that arrive on the bridge.

// hostChain is the iptables chain of the bridge's rules for traffic to
// the host.
func hostChain(bridge string) string { return "PIER-IN-" + bridge }

// outChain is the iptables chain of the bridge's rules for traffic the
// host forwards.
func outChain(bridge string) string { return "PIER-OUT-" + bridge }

// privateNets are the IPv4 networks containers cannot open connections to
// through the host, unless NetworkConfig.AllowNets has them. The
// documentation networks (TEST-NET-1..3) and 198.18.0.0/15 are left out:
// the internet routes none of them, so they hold nothing to protect, and
// some networks use them for real services (a proxy's fake-IP DNS).
var privateNets = []string{
	"0.0.0.0/8",      // "this network" (RFC 791)
	"10.0.0.0/8",     // private (RFC 1918)
	"100.64.0.0/10",  // carrier-grade NAT (RFC 6598): VPN meshes, Alibaba Cloud's metadata
	"127.0.0.0/8",    // loopback
	"169.254.0.0/16", // link-local (RFC 3927): cloud metadata at 169.254.169.254
	"172.16.0.0/12",  // private (RFC 1918)
	"192.168.0.0/16", // private (RFC 1918)
	"224.0.0.0/4",    // multicast
	"240.0.0.0/4",    // reserved, and the broadcast address
}

// firewall (re)writes the bridge's rules: idempotent, and the rules follow
// NetworkConfig and the resolvers (the IPv4 nameservers of the
// containers' resolv.conf) at every start.
func (n *network) firewall() error {
	ipt, err := iptables.New()
	if err != nil {
		return fmt.Errorf("firewall: %w (is the iptables package installed?)", err)
	}
	if err := writeChain(ipt, "INPUT", n.cfg.Bridge, hostChain(n.cfg.Bridge), n.hostRules()); err != nil {
		return err
	}
	out, err := n.outRules()
	if err != nil {
		return err
	}
	if err := writeChain(ipt, "FORWARD", n.cfg.Bridge, outChain(n.cfg.Bridge), out); err != nil {
		return err
	}
	if hostHasIPv6() {
		ip6t, err := iptables.NewWithProtocol(iptables.ProtocolIPv6)
		if err != nil {
			return fmt.Errorf("firewall: %w (is the iptables package installed?)", err)
		}
		refuse := [][]string{{"-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"}, {"-j", "REJECT"}}
		// Neighbour discovery passes, so that the host's refusals reach
		// the namespace at once instead of a connect timing out.
		ndp := [][]string{
			{"-p", "ipv6-icmp", "--icmpv6-type", "neighbour-solicitation", "-j", "RETURN"},
			{"-p", "ipv6-icmp", "--icmpv6-type", "neighbour-advertisement", "-j", "RETURN"},
		}
		if err := writeChain(ip6t, "INPUT", n.cfg.Bridge, hostChain(n.cfg.Bridge), append(ndp, refuse...)); err != nil {
			return fmt.Errorf("%w (ip6tables)", err)
		}
		if err := writeChain(ip6t, "FORWARD", n.cfg.Bridge, outChain(n.cfg.Bridge), refuse); err != nil {
			return fmt.Errorf("%w (ip6tables)", err)
		}
	}
	return n.isolatePorts()
}

// hostRules are hostChain's rules.
func (n *network) hostRules() [][]string {
	rules := [][]string{
		{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"},
		{"-p", "udp", "--dport", "53", "-j", "RETURN"},
		{"-p", "tcp", "--dport", "53", "-j", "RETURN"},
	}
	for _, p := range n.cfg.HostPorts {
		rules = append(rules, []string{"-p", "tcp", "--dport", strconv.Itoa(p), "-j", "RETURN"})
	}
	return append(rules,
		[]string{"-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"},
		[]string{"-j", "REJECT"})
}

// outRules are outChain's rules. The container subnet comes before the
// allowances: a container reaches another only through the router, on
// the host's INPUT path, even when an allowed network covers the subnet.
// Rejections say "administratively prohibited", which a connect sees at
// once as "no route to host".
func (n *network) outRules() ([][]string, error) {
	reject := []string{"-j", "REJECT", "--reject-with", "icmp-admin-prohibited"}
	rules := [][]string{
		{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"},
		append([]string{"-d", n.cfg.Subnet}, reject...),
	}
	for _, r := range n.resolvers {
		for _, proto := range []string{"udp", "tcp"} {
			rules = append(rules, []string{"-d", r.String() + "/32", "-p", proto, "--dport", "53", "-j", "RETURN"})
		}
	}
	for _, p := range n.cfg.AllowNets {
		if !p.Addr().Is4() {
			return nil, fmt.Errorf("firewall: allowed network %s is not IPv4: containers have no IPv6", p)
		}
		rules = append(rules, []string{"-d", p.Masked().String(), "-j", "RETURN"})
	}
	n.mu.Lock()
	for _, p := range n.peers {
		rules = append(rules, n.peerRules(p)...)
	}
	n.mu.Unlock()
	for _, p := range privateNets {
		rules = append(rules, append([]string{"-d", p}, reject...))
	}
	return rules, nil
}

// writeChain rewrites chain with rules and makes parent jump to it, first,
// for packets arriving on bridge.
func writeChain(ipt *iptables.IPTables, parent, bridge, chain string, rules [][]string) error {
	if err := ipt.ClearChain("filter", chain); err != nil { // creates it if missing
		return fmt.Errorf("firewall: %w", err)
	}
	for _, r := range rules {
		if err := ipt.Append("filter", chain, r...); err != nil {
			return fmt.Errorf("firewall: %s: %w", chain, err)
		}
	}
	jump := []string{"-i", bridge, "-j", chain}
	if ok, err := ipt.Exists("filter", parent, jump...); err != nil {
		return fmt.Errorf("firewall: %w", err)
	} else if !ok {
		if err := ipt.Insert("filter", parent, 1, jump...); err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
	}
	return nil
}

// hostHasIPv6 reports whether the kernel has IPv6 (not booted with
// ipv6.disable=1): without it there is nothing to refuse, and ip6tables
// may not work.
func hostHasIPv6() bool {
	_, err := os.Stat("/proc/net/if_inet6")
	return err == nil
}

// RemoveFirewall deletes the rules of cfg's bridge (those a Containerd
// opened with cfg wrote), IPv4 and IPv6. Missing rules are not an error.
func RemoveFirewall(cfg NetworkConfig) error {
	cfg.defaults("")
	protos := []iptables.Protocol{iptables.ProtocolIPv4}
	if hostHasIPv6() {
		protos = append(protos, iptables.ProtocolIPv6)
	}
	var errs []error
	for _, proto := range protos {
		ipt, err := iptables.NewWithProtocol(proto)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for parent, chain := range map[string]string{"INPUT": hostChain(cfg.Bridge), "FORWARD": outChain(cfg.Bridge)} {
			// A chain that does not exist has no jump to it.
			if ok, err := ipt.ChainExists("filter", chain); err != nil || !ok {
				errs = append(errs, err)
				continue
			}
			if err := ipt.DeleteIfExists("filter", parent, "-i", cfg.Bridge, "-j", chain); err != nil {
				errs = append(errs, err)
			}
			errs = append(errs, ipt.ClearAndDeleteChain("filter", chain))
		}
	}
	return errors.Join(errs...)
}

// resolvers returns the IPv4 nameservers of resolv.conf contents b, other
// than loopback ones: those containers use.
func resolvers(b []byte) []netip.Addr {
	var addrs []netip.Addr
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil && a.Is4() && !a.IsLoopback() {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// isolate sets the bridge port of an instance's host-side veth isolated:
// of the interfaces res names, the host's links that are ports of the
// bridge.
func (n *network) isolate(res *gocni.Result) error {
	bridge, err := netlink.LinkByName(n.cfg.Bridge)
	if err != nil {
		return fmt.Errorf("isolate: bridge %s: %w", n.cfg.Bridge, err)
	}
	isolated := 0
	for name, iface := range res.Interfaces {
		if iface.Sandbox != "" || name == n.cfg.Bridge {
			continue
		}
		link, err := netlink.LinkByName(name)
		if err != nil || link.Attrs().MasterIndex != bridge.Attrs().Index {
			continue // not a port of the bridge in the host's namespace
		}
		if err := netlink.LinkSetIsolated(link, true); err != nil {
			return fmt.Errorf("isolate %s: %w", name, err)
		}
		isolated++
	}
	if isolated == 0 {
		return fmt.Errorf("isolate: no port of %s among %d interfaces", n.cfg.Bridge, len(res.Interfaces))
	}
	return nil
}

// isolatePorts isolates every port the bridge has already: instances
// started by an earlier pier that did not isolate them.
func (n *network) isolatePorts() error {
	bridge, err := netlink.LinkByName(n.cfg.Bridge)
	if err != nil {
		return nil // no bridge yet: the first instance creates it
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("isolate: %w", err)
	}
	for _, l := range links {
		if l.Attrs().MasterIndex == bridge.Attrs().Index {
			if err := netlink.LinkSetIsolated(l, true); err != nil {
				return fmt.Errorf("isolate %s: %w", l.Attrs().Name, err)
			}
		}
	}
	return nil
}

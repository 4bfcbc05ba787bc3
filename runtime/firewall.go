package runtime

import (
	"fmt"
	"strconv"

	gocni "github.com/containerd/go-cni"
	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
)

// Instances are isolated from each other and from the host, by default:
//
//   - Every instance's port on the bridge is isolated (the bridge's
//     "isolated" port flag): isolated ports exchange no frames, so an
//     instance reaches no other instance's container, while the host (the
//     bridge itself) and, through it, the outside stay reachable.
//   - New connections from the bridge to the host itself are refused, except
//     to DNS and to NetworkConfig.HostPorts (the router's ports): apps reach
//     each other, and pier, only through the router.
//
// The host rules live in one chain per bridge, hostChain, jumped to from
// INPUT for packets that arrive on the bridge.

// hostChain is the iptables chain of the bridge's rules for traffic to
// the host.
func hostChain(bridge string) string { return "PIER-IN-" + bridge }

// firewall (re)writes the bridge's host rules: idempotent, and the rules
// follow NetworkConfig.HostPorts at every start.
func (n *network) firewall() error {
	ipt, err := iptables.New()
	if err != nil {
		return fmt.Errorf("firewall: %w (is the iptables package installed?)", err)
	}
	chain := hostChain(n.cfg.Bridge)
	if err := ipt.ClearChain("filter", chain); err != nil { // creates it if missing
		return fmt.Errorf("firewall: %w", err)
	}
	rules := [][]string{
		{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"},
		{"-p", "udp", "--dport", "53", "-j", "RETURN"},
		{"-p", "tcp", "--dport", "53", "-j", "RETURN"},
	}
	for _, p := range n.cfg.HostPorts {
		rules = append(rules, []string{"-p", "tcp", "--dport", strconv.Itoa(p), "-j", "RETURN"})
	}
	rules = append(rules,
		[]string{"-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"},
		[]string{"-j", "REJECT"})
	for _, r := range rules {
		if err := ipt.Append("filter", chain, r...); err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
	}
	if err := n.isolatePorts(); err != nil {
		return err
	}
	jump := []string{"-i", n.cfg.Bridge, "-j", chain}
	if ok, err := ipt.Exists("filter", "INPUT", jump...); err != nil {
		return fmt.Errorf("firewall: %w", err)
	} else if !ok {
		if err := ipt.Insert("filter", "INPUT", 1, jump...); err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
	}
	return nil
}

// RemoveFirewall deletes the host rules of cfg's bridge (those a Containerd
// opened with cfg wrote). Missing rules are not an error.
func RemoveFirewall(cfg NetworkConfig) error {
	cfg.defaults("")
	ipt, err := iptables.New()
	if err != nil {
		return err
	}
	chain := hostChain(cfg.Bridge)
	if err := ipt.DeleteIfExists("filter", "INPUT", "-i", cfg.Bridge, "-j", chain); err != nil {
		return err
	}
	if ok, err := ipt.ChainExists("filter", chain); err != nil || !ok {
		return err
	}
	return ipt.ClearAndDeleteChain("filter", chain)
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

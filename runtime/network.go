package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/pkg/netns"
	gocni "github.com/containerd/go-cni"
	cnins "github.com/containernetworking/plugins/pkg/ns"
)

// NetworkConfig is the CNI bridge every instance joins.
type NetworkConfig struct {
	Name      string   // CNI network name; default "pier"
	Bridge    string   // bridge device; default "pier0"
	Subnet    string   // default "10.77.0.0/16"
	PluginDir []string // default /usr/lib/cni (Debian), /opt/cni/bin
	StateDir  string   // host-local IPAM allocations; default DataDir/cni
	NetnsDir  string   // named network namespaces; default DataDir/netns
	// HostPorts are the host's TCP ports instances may connect to (the
	// router's); every other port of the host refuses them (firewall.go).
	HostPorts []int
	// AllowNets are IPv4 networks containers may connect to although
	// they are private (privateNets in firewall.go): an office database
	// at 192.168.1.10/32. None by default. They open nothing of the host
	// itself (HostPorts do) nor of the container subnet.
	AllowNets []netip.Prefix
}

func (n *NetworkConfig) defaults(dataDir string) {
	if n.Name == "" {
		n.Name = "pier"
	}
	if n.Bridge == "" {
		n.Bridge = "pier0"
	}
	if n.Subnet == "" {
		n.Subnet = "10.77.0.0/16"
	}
	if len(n.PluginDir) == 0 {
		n.PluginDir = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	if n.StateDir == "" {
		n.StateDir = filepath.Join(dataDir, "cni")
	}
	if n.NetnsDir == "" {
		n.NetnsDir = filepath.Join(dataDir, "netns")
	}
}

// network attaches instances to the bridge. Each instance gets a named
// (bind-mounted) network namespace, so its network can be torn down after its
// process died, and so it survives pier restarts.
type network struct {
	cfg       NetworkConfig
	cni       gocni.CNI
	resolvers []netip.Addr // the IPv4 nameservers containers use

	mu    sync.Mutex   // serializes changes of peers' rules
	peers []netip.Addr // the cluster's other machines (SetPeers), sorted
}

// newNetwork prepares the bridge's configuration and firewall; resolvers
// are the IPv4 nameservers containers use, which the firewall lets them
// reach on port 53 wherever they are.
func newNetwork(cfg NetworkConfig, resolvers []netip.Addr) (*network, error) {
	conf, err := json.Marshal(map[string]any{
		"cniVersion": "1.0.0",
		"name":       cfg.Name,
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": cfg.Bridge,
				"isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": cfg.Subnet}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": cfg.StateDir,
				},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.NetnsDir, 0o700); err != nil {
		return nil, err
	}
	cni, err := gocni.New(
		gocni.WithPluginDir(cfg.PluginDir),
		gocni.WithInterfacePrefix("eth"),
		gocni.WithLoNetwork,
		gocni.WithConfListBytes(conf),
	)
	if err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	n := &network{cfg: cfg, cni: cni, resolvers: resolvers}
	if err := n.firewall(); err != nil {
		return nil, err
	}
	return n, nil
}

// create makes a new named network namespace, with IPv6 off, and returns
// its path.
func (n *network) create() (string, error) {
	ns, err := netns.NewNetNS(n.cfg.NetnsDir)
	if err != nil {
		return "", fmt.Errorf("create network namespace: %w", err)
	}
	if err := ns.Do(func(cnins.NetNS) error { return disableIPv6() }); err != nil {
		ns.Remove()
		return "", fmt.Errorf("create network namespace: %w", err)
	}
	return ns.GetPath(), nil
}

// disableIPv6 turns IPv6 off in the calling thread's network namespace:
// its interfaces get no address, link-local included, so a container
// cannot reach the host's [::] listeners through the bridge's link-local
// address. Setting "all" sets "default" too: interfaces made later (the
// CNI's veth) have it off as well. A kernel without IPv6 has nothing to
// turn off.
func disableIPv6() error {
	err := os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("1"), 0o644)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("disable IPv6: %w", err)
	}
	return nil
}

// ParseAllowNets parses a comma-separated list of IPv4 networks and
// addresses (an address is its /32), as NetworkConfig.AllowNets takes
// them. "" is none.
func ParseAllowNets(s string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network: write one as 192.168.1.0/24, or an address as 192.168.1.10", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if !p.Addr().Is4() {
			return nil, fmt.Errorf("%s is not IPv4: containers have no IPv6, so only IPv4 networks can be allowed", f)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("%s has bits set past its /%d: write %s for the network, or %s/32 for the address", f, p.Bits(), p.Masked(), p.Addr())
		}
		nets = append(nets, p)
	}
	return nets, nil
}

// attach puts the namespace on the bridge and returns the instance's IP.
func (n *network) attach(ctx context.Context, id, nsPath string) (string, error) {
	res, err := n.cni.Setup(ctx, id, nsPath)
	if err != nil {
		return "", fmt.Errorf("attach %s to network: %w", id, err)
	}
	if err := n.isolate(res); err != nil {
		return "", fmt.Errorf("attach %s to network: %w", id, err)
	}
	for _, iface := range res.Interfaces {
		for _, ipc := range iface.IPConfigs {
			if ip := ipc.IP; ip != nil && !ip.IsLoopback() && ip.To4() != nil {
				return ip.String(), nil
			}
		}
	}
	return "", fmt.Errorf("attach %s: CNI returned no IPv4 address", id)
}

// destroy detaches the namespace from the bridge (releasing its IP and
// iptables rules) and removes it. It never runs CNI teardown unless nsPath is
// one of pier's own named namespaces: teardown against the host's namespace
// would set the host's loopback down.
func (n *network) destroy(ctx context.Context, id, nsPath string) error {
	if nsPath == "" || filepath.Dir(nsPath) != filepath.Clean(n.cfg.NetnsDir) {
		return nil
	}
	var errs []string
	if _, err := os.Stat(nsPath); err == nil {
		if err := n.cni.Remove(ctx, id, nsPath); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := netns.LoadNetNS(nsPath).Remove(); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("detach %s: %s", id, strings.Join(errs, "; "))
	}
	return nil
}

// resolvConf returns the resolver configuration for containers: the host's,
// unless it lists only loopback servers (a local stub such as
// systemd-resolved), in which case the upstream list is used.
func resolvConf() []byte {
	for _, p := range []string{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"} {
		b, err := os.ReadFile(p)
		if err == nil && hasRoutableNameserver(b) {
			return b
		}
	}
	return []byte("nameserver 1.1.1.1\nnameserver 9.9.9.9\n")
}

func hasRoutableNameserver(b []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && !ip.IsLoopback() {
				return true
			}
		}
	}
	return false
}

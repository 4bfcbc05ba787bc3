package runtime_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/pkg/netns"
	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"

	"pier/app"
	"pier/builder"
	"pier/runtime"
	"pier/runtime/runtimetest"
)

// A container cannot connect to the LAN nor to cloud metadata through the
// host, unless the admin allows the network; it reaches the internet and
// the host's resolver on port 53.
func TestContainersCannotReachPrivateNetworks(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")

	resolv, err := os.ReadFile(filepath.Join(env.Dir, "pier", "resolv.conf"))
	if err != nil {
		t.Fatal(err)
	}
	resolver := firstIPv4Nameserver(string(resolv))
	if !resolver.IsValid() {
		t.Fatalf("the containers' resolv.conf has no IPv4 nameserver:\n%s", resolv)
	}
	// The rule for the resolver, whatever address it has.
	ipt, err := iptables.New()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ipt.List("filter", "PIER-OUT-"+env.Network.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []string{"udp", "tcp"} {
		want := fmt.Sprintf("-A PIER-OUT-%s -d %s/32 -p %s -m %s --dport 53 -j RETURN", env.Network.Bridge, resolver, proto, proto)
		if !containsLine(rules, want) {
			t.Errorf("PIER-OUT-%s has no %q:\n%s", env.Network.Bridge, want, strings.Join(rules, "\n"))
		}
	}

	lan := netip.MustParseAddr("10.123.45.1")
	office := netip.MustParseAddr("192.168.77.1")
	metadata := netip.MustParseAddr("169.254.169.254")
	internet := netip.MustParseAddr("198.51.100.7") // stands for any public address
	targets := []netip.Addr{lan, office, metadata, internet}
	// The resolver is steered to the fake LAN too, unless it is the host
	// itself (then the host's INPUT rules answer for it).
	steerResolver := !isLocalAddr(t, resolver)
	if steerResolver {
		targets = append(targets, resolver)
	} else {
		t.Logf("resolver %s is the host's own address: its port 53 is checked by rule only", resolver)
	}
	fakeLAN(t, env.Network.Subnet, targets, 80, 53)

	probe := func(rt *runtime.Containerd) string {
		t.Helper()
		args := []string{lan.String() + ":80", office.String() + ":80", metadata.String() + ":80", internet.String() + ":80"}
		if steerResolver {
			args = append(args, resolver.String()+":53", resolver.String()+":80")
		}
		out := connectFrom(t, rt, "egress", args)
		t.Logf("probe:\n%s", out)
		return out
	}
	expect := func(out string, want map[string]string) {
		t.Helper()
		var wrong []string
		for target, w := range want {
			if !strings.Contains(out, target+" "+w) {
				wrong = append(wrong, target+" "+w)
			}
		}
		if len(wrong) > 0 {
			t.Errorf("from a container: want %s; the probe printed:\n%s", strings.Join(wrong, ", "), out)
		}
	}

	want := map[string]string{
		lan.String() + ":80":      "blocked",
		office.String() + ":80":   "blocked",
		metadata.String() + ":80": "blocked",
		internet.String() + ":80": "reached",
	}
	if steerResolver {
		want[resolver.String()+":53"] = "reached"
		if !publicAddr(resolver) {
			want[resolver.String()+":80"] = "blocked"
		}
	}
	expect(probe(rt), want)

	// pier restarted with --allow-net 192.168.77.1/32: that address, and
	// only it, opens.
	env.Network.AllowNets = []netip.Prefix{netip.PrefixFrom(office, 32)}
	allowed := env.Runtime(t, "")
	want[office.String()+":80"] = "reached"
	expect(probe(allowed), want)
}

// A container has no IPv6: it cannot reach the host's [::] listeners
// through the bridge's link-local address.
func TestContainersHaveNoIPv6(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	ctx := context.Background()
	port := listenAny(t)

	// The first container makes the bridge; its link-local address comes
	// once the bridge has a port.
	code, err := rt.RunOnce(ctx, app.OneOff{App: "nov6", Image: builder.DefaultBase, Out: &strings.Builder{}, Command: "true"})
	if err != nil || code != 0 {
		t.Fatalf("first container: exit %d, %v", code, err)
	}
	gw := bridgeLinkLocal(t, env.Network.Bridge)

	probe := `import os, socket, sys
print("addresses:", open("/proc/net/if_inet6").read().strip().replace("\n", "; ") or "none")
dev = [d for d in os.listdir("/sys/class/net") if d != "lo"][0]
try:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect((sys.argv[1], int(sys.argv[2]), 0, socket.if_nametoindex(dev)))
    s.close()
    print("link-local reached")
except OSError as e:
    print("link-local blocked:", e)
`
	var out strings.Builder
	code, err = rt.RunOnce(ctx, app.OneOff{App: "nov6", Image: builder.DefaultBase, Out: &out,
		Command: fmt.Sprintf("python3 -c '%s' %s %d", probe, gw, port)})
	if err != nil || code != 0 {
		t.Fatalf("probe: exit %d, %v\n%s", code, err, out.String())
	}
	t.Logf("probe:\n%s", out.String())
	for _, want := range []string{"addresses: none", "link-local blocked"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("probe from a container: want %q; it printed:\n%s", want, out.String())
		}
	}
}

// A network namespace on the bridge with IPv6 on (an instance started
// before pier turned it off) cannot reach the host over IPv6 either.
func TestBridgeRefusesIPv6(t *testing.T) {
	env := runtimetest.Start(t)
	rt := env.Runtime(t, "")
	port := listenAny(t)
	code, err := rt.RunOnce(context.Background(), app.OneOff{App: "nov6", Image: builder.DefaultBase, Out: &strings.Builder{}, Command: "true"})
	if err != nil || code != 0 {
		t.Fatalf("first container: exit %d, %v", code, err)
	}
	gw := bridgeLinkLocal(t, env.Network.Bridge)

	ns, host := newNetns(t)
	link, err := netlink.LinkByName(host)
	if err != nil {
		t.Fatal(err)
	}
	bridge, err := netlink.LinkByName(env.Network.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetMaster(link, bridge); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	inNetns(t, ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
	inNetns(t, ns, "ip", "link", "set", "eth0", "up")

	// Until the namespace's link-local address and route are up, a dial
	// fails with "cannot assign requested address" or "network is
	// unreachable".
	// The zone is eth0's index: Go resolves zone names with a cache of
	// the host's interfaces, where eth0 may be another one.
	var eth0 *net.Interface
	if err := ns.Do(func(cnins.NetNS) error {
		var err error
		eth0, err = net.InterfaceByName("eth0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(fmt.Sprintf("%s%%%d", gw, eth0.Index), fmt.Sprint(port))
	var dialErr error
	deadline := time.Now().Add(20 * time.Second)
	for {
		dialErr = ns.Do(func(cnins.NetNS) error {
			c, err := net.DialTimeout("tcp6", addr, 3*time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		settling := errors.Is(dialErr, syscall.EADDRNOTAVAIL) || errors.Is(dialErr, syscall.ENETUNREACH)
		if !settling || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if dialErr == nil {
		t.Fatalf("a namespace with IPv6 on the bridge reached the host's [::]:%d at %s", port, addr)
	}
	if !strings.Contains(dialErr.Error(), "refused") {
		t.Errorf("dial %s: %v; want it refused by the bridge's rules", addr, dialErr)
	}
}

func TestParseAllowNets(t *testing.T) {
	for _, tc := range []struct{ name, in, want, err string }{
		{name: "empty", in: "", want: ""},
		{name: "address and network", in: "192.168.1.10, 10.1.0.0/16", want: "192.168.1.10/32 10.1.0.0/16"},
		{name: "host bits", in: "192.168.1.10/24", err: "write 192.168.1.0/24 for the network, or 192.168.1.10/32 for the address"},
		{name: "IPv6", in: "fd00::/8", err: "not IPv4"},
		{name: "garbage", in: "office", err: `"office" is not a network`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nets, err := runtime.ParseAllowNets(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseAllowNets(%q) = %v, %v; want an error with %q", tc.in, nets, err, tc.err)
				}
				return
			}
			var got []string
			for _, n := range nets {
				got = append(got, n.String())
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("ParseAllowNets(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// fakeLAN puts addrs in a network namespace of the test's, listening on
// ports on all of them, and routes traffic from subnet (and only from it:
// the host's own traffic to those addresses is left alone) there, through
// the host: as the LAN, a cloud's metadata service or the internet would
// be.
func fakeLAN(t *testing.T, subnet string, addrs []netip.Addr, ports ...int) {
	t.Helper()
	ns, host := newNetns(t)
	var b [4]byte
	rand.Read(b[:])
	table := fmt.Sprint(100000 + binary.BigEndian.Uint32(b[:])%1000000)
	// The link between host and namespace is 10.123.45.0/30, in the table
	// only: the host gets 10.123.45.2, the namespace 10.123.45.1.
	ipCmd(t, "addr", "add", "10.123.45.2/30", "dev", host, "noprefixroute")
	ipCmd(t, "link", "set", host, "up")
	ipCmd(t, "route", "add", "10.123.45.0/30", "dev", host, "table", table)
	inNetns(t, ns, "ip", "link", "set", "lo", "up")
	inNetns(t, ns, "ip", "addr", "add", "10.123.45.1/30", "dev", "eth0")
	inNetns(t, ns, "ip", "link", "set", "eth0", "up")
	inNetns(t, ns, "ip", "route", "add", "default", "via", "10.123.45.2")
	for _, a := range addrs {
		if a.String() != "10.123.45.1" {
			inNetns(t, ns, "ip", "addr", "add", a.String()+"/32", "dev", "eth0")
			ipCmd(t, "route", "add", a.String()+"/32", "via", "10.123.45.1", "dev", host, "table", table)
		}
	}
	ipCmd(t, "rule", "add", "from", subnet, "lookup", table, "priority", "1000")
	t.Cleanup(func() { exec.Command("ip", "rule", "del", "from", subnet, "lookup", table, "priority", "1000").Run() })

	for _, p := range ports {
		var l net.Listener
		err := ns.Do(func(cnins.NetNS) error {
			var err error
			l, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go acceptAll(l)
	}
}

// newNetns makes a network namespace with an interface eth0, whose peer in
// the host's namespace it returns too. Both go at cleanup.
func newNetns(t *testing.T) (*netns.NetNS, string) {
	t.Helper()
	ns, err := netns.NewNetNS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Remove() })
	f, err := os.Open(ns.GetPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [3]byte
	rand.Read(b[:])
	host := fmt.Sprintf("pe%x", b)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(f.Fd()))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth %s: %v", host, err)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	return ns, host
}

// listenAny listens on the host's [::] (IPv6 and IPv4), on a free port.
func listenAny(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go acceptAll(l)
	return l.Addr().(*net.TCPAddr).Port
}

func acceptAll(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// bridgeLinkLocal waits for the bridge's IPv6 link-local address to be
// usable and returns it.
func bridgeLinkLocal(t *testing.T, bridge string) netip.Addr {
	t.Helper()
	link, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.IP)
			if ip.IsLinkLocalUnicast() && a.Flags&0x40 == 0 { // not IFA_F_TENTATIVE
				return ip
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge %s has no usable link-local address: %v", bridge, addrs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func inNetns(t *testing.T, ns *netns.NetNS, args ...string) {
	t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--net=" + ns.GetPath(), "--"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func firstIPv4Nameserver(resolv string) netip.Addr {
	for _, line := range strings.Split(resolv, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.Is4() {
				return a
			}
		}
	}
	return netip.Addr{}
}

// isLocalAddr reports whether a is one of the host's own addresses.
func isLocalAddr(t *testing.T, a netip.Addr) bool {
	t.Helper()
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range addrs {
		if ip, _ := netip.AddrFromSlice(x.IP.To4()); ip == a {
			return true
		}
	}
	return false
}

// publicAddr reports whether containers reach a without an allowance.
func publicAddr(a netip.Addr) bool {
	for _, p := range []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3"} {
		if netip.MustParsePrefix(p).Contains(a) {
			return false
		}
	}
	return true
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// connectFrom tries a TCP connection to each host:port target from a
// one-off container of appName, and returns what it printed: a line per
// target ending in "reached" or "blocked: <why>".
func connectFrom(t *testing.T, rt *runtime.Containerd, appName string, targets []string) string {
	t.Helper()
	script := `import socket, sys
for t in sys.argv[1:]:
    host, port = t.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        print(t, "reached")
    except OSError as e:
        print(t, "blocked:", e)
`
	var out strings.Builder
	code, err := rt.RunOnce(context.Background(), app.OneOff{App: appName, Image: builder.DefaultBase, Out: &out,
		Command: fmt.Sprintf("python3 -c '%s' %s", script, strings.Join(targets, " "))})
	if err != nil || code != 0 {
		t.Fatalf("probe: exit %d, %v\n%s", code, err, out.String())
	}
	return out.String()
}

package runtime_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-iptables/iptables"

	"pier/runtime/runtimetest"
)

// An app calls another by its public name, which on a LAN resolves to
// this machine's LAN address or to another machine of the cluster: a
// container reaches the router's port there and no other port. A
// connection to this machine's own address comes from the container
// subnet, as the router's access rules expect.
func TestContainersReachRouterPortsOnLANAddresses(t *testing.T) {
	env := runtimetest.Start(t)
	routerPort, otherPort := freePort(t), freePort(t)
	env.Network.HostPorts = []int{routerPort}
	rt := env.Runtime(t, "")
	subnet := netip.MustParsePrefix(env.Network.Subnet)

	// This machine's LAN address, on an interface of the test's.
	own := netip.MustParseAddr("172.31.251.1")
	ownLAN(t, own)
	from := make(chan netip.Addr, 8)
	for _, p := range []int{routerPort, otherPort} {
		l, err := net.Listen("tcp4", netip.AddrPortFrom(own, uint16(p)).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
					select {
					case from <- ap.Addr().Unmap():
					default:
					}
				}
				c.Close()
			}
		}()
	}
	// Two machines of the cluster: one on the LAN, one with a public
	// address.
	peer := netip.MustParseAddr("192.168.77.9")
	public := netip.MustParseAddr("198.51.100.9")
	fakeLAN(t, env.Network.Subnet, []netip.Addr{peer, public}, routerPort, otherPort)

	probe := func() string {
		t.Helper()
		var args []string
		for _, a := range []netip.Addr{own, peer, public} {
			for _, p := range []int{routerPort, otherPort} {
				args = append(args, netip.AddrPortFrom(a, uint16(p)).String())
			}
		}
		return connectFrom(t, rt, "peers", args)
	}
	expect := func(what string, want map[netip.Addr][2]string) {
		t.Helper()
		out := probe()
		for a, w := range want {
			for i, p := range []int{routerPort, otherPort} {
				target := netip.AddrPortFrom(a, uint16(p)).String()
				if !strings.Contains(out, target+" "+w[i]) {
					t.Errorf("%s: %s from a container: want %s; the probe printed:\n%s", what, target, w[i], out)
				}
			}
		}
	}

	expect("in no cluster", map[netip.Addr][2]string{
		own:    {"reached", "blocked"},
		peer:   {"blocked", "blocked"},
		public: {"reached", "reached"}, // the internet
	})
	select {
	case a := <-from:
		if !subnet.Contains(a) {
			t.Errorf("a container's connection to this machine's LAN address came from %s, want an address in %s", a, subnet)
		}
	case <-time.After(10 * time.Second):
		t.Error("the router port of this machine's LAN address saw no connection")
	}

	if err := rt.SetPeers([]netip.Addr{peer, public, netip.MustParseAddr("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	// The peers' rules come after the resolvers' and the allowed
	// networks', just before the private networks' refusals, in any
	// order of peers.
	ipt, err := iptables.New()
	if err != nil {
		t.Fatal(err)
	}
	chain := "PIER-OUT-" + env.Network.Bridge
	rules, err := ipt.List("filter", chain)
	if err != nil {
		t.Fatal(err)
	}
	private := slices.Index(rules, "-A "+chain+" -d 0.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited")
	if private < 4 {
		t.Fatalf("%s has no private networks' refusals after room for the peers':\n%s", chain, strings.Join(rules, "\n"))
	}
	got := slices.Clone(rules[private-4 : private])
	var want []string
	for _, a := range []netip.Addr{peer, public} {
		want = append(want,
			fmt.Sprintf("-A %s -d %s/32 -p tcp -m tcp --dport %d -j RETURN", chain, a, routerPort),
			fmt.Sprintf("-A %s -d %s/32 -j REJECT --reject-with icmp-admin-prohibited", chain, a))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s's rules before the private networks':\n%s\nwant:\n%s\nwhole chain:\n%s", chain, strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(rules, "\n"))
	}
	if strings.Count(strings.Join(rules, "\n"), "/32") != 4+strings.Count(strings.Join(rules[:private-4], "\n"), "--dport 53") {
		t.Errorf("%s has peer rules elsewhere, or 127.0.0.1 was taken:\n%s", chain, strings.Join(rules, "\n"))
	}
	expect("with two peers", map[netip.Addr][2]string{
		own:    {"reached", "blocked"},
		peer:   {"reached", "blocked"},
		public: {"reached", "blocked"},
	})

	// The peers left the cluster: their rules go.
	if err := rt.SetPeers(nil); err != nil {
		t.Fatal(err)
	}
	expect("after the peers left", map[netip.Addr][2]string{
		peer:   {"blocked", "blocked"},
		public: {"reached", "reached"},
	})
}

// ownLAN gives the host's namespace the address a, on the host's end of
// a veth into a network namespace of the test's (the kernel may have no
// dummy interfaces), removed at cleanup.
func ownLAN(t *testing.T, a netip.Addr) {
	t.Helper()
	_, host := newNetns(t)
	ipCmd(t, "addr", "add", a.String()+"/32", "dev", host)
	ipCmd(t, "link", "set", host, "up")
}

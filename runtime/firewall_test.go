package runtime_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"pier/app"
	"pier/builder"
	"pier/runtime/runtimetest"
)

// An instance cannot reach another instance's container, nor a port of the
// host other than the router's; the host reaches every instance.
func TestInstancesAreIsolated(t *testing.T) {
	env := runtimetest.Start(t)
	allowed, denied := freePort(t), freePort(t)
	env.Network.HostPorts = []int{allowed}
	rt := env.Runtime(t, "")
	ctx := context.Background()

	b, err := rt.Start(ctx, app.Instance{ID: "isob-" + fmt.Sprint(time.Now().UnixNano()%1e6), App: "isob", Release: 1,
		Process: "web", Image: builder.DefaultBase, Port: 8080, Command: "exec python3 -m http.server 8080"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host cannot reach instance b at %s: %v", b.Addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The host listens on the bridge's own address (the gateway).
	gw := netip.MustParsePrefix(env.Network.Subnet).Addr().Next()
	for _, p := range []int{allowed, denied} {
		l, err := net.Listen("tcp", netip.AddrPortFrom(gw, uint16(p)).String())
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
				c.Close()
			}
		}()
	}

	probe := `import socket, sys
for name, host, port in [("instance", sys.argv[1], 8080), ("router port", sys.argv[2], int(sys.argv[3])), ("other host port", sys.argv[2], int(sys.argv[4]))]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print(name, "reached")
    except OSError as e:
        print(name, "blocked")
`
	bHost, _, _ := net.SplitHostPort(b.Addr)
	var out strings.Builder
	code, err := rt.RunOnce(ctx, app.OneOff{App: "isoa", Image: builder.DefaultBase, Out: &out,
		Command: fmt.Sprintf("python3 -c '%s' %s %s %d %d", probe, bHost, gw, allowed, denied)})
	if err != nil || code != 0 {
		t.Fatalf("probe: exit %d, %v\n%s", code, err, out.String())
	}
	for _, want := range []string{"instance blocked", "router port reached", "other host port blocked"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("probe from another app's container: got %q, want %q", out.String(), want)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

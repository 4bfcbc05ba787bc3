package router

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"pier/app"
)

// Whatever Host a client sends, it names at most one app: one whose name
// is valid, reached at <app>.<domain> or at one of its custom domains,
// whatever the case, port or trailing dot of the header. (Certificates and
// redirects read the Host with the same normalHost.)
func FuzzHost(f *testing.F) {
	for _, s := range []string{
		"hello.example.com", "HELLO.Example.COM.:8080", "pier.example.com", "x.pier.example.com",
		"pier.other.com", "www.example.org", "WWW.EXAMPLE.ORG:443", "shop.example.net.",
		"example.com", ".example.com", "hello.example.com:", "[::1]:80", "127.0.0.1",
		"hello_x.example.com", "x:]hello.example.com", "a.b.example.com", "web-1.example.com",
		"hello.example.com\x00", "\u212a.example.com", "\u212aello.example.com",
	} {
		f.Add(s)
	}
	r := New(Config{Domain: "example.com", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, a := range []string{"hello", "web-1", "a", "k"} {
		r.Set(a, nil)
	}
	r.SetDomains("hello", []string{"www.example.org"})
	r.SetDomains("web-1", []string{"shop.example.net"})
	domains := map[string]string{"www.example.org": "hello", "shop.example.net": "web-1"}
	f.Fuzz(func(t *testing.T, host string) {
		if name, ok := r.appName(host); ok {
			if err := app.ValidName(name); err != nil {
				t.Fatalf("Host %q names app %q: %v", host, name, err)
			}
		}
		rt := r.lookup(host)
		if rt == nil {
			return
		}
		if _, _, err := net.SplitHostPort(host); err != nil && strings.Contains(host, ":") {
			t.Fatalf("Host %q, neither host nor host:port, is routed to %q", host, rt.app)
		}
		h := normalHost(host)
		if strings.ContainsFunc(h, func(c rune) bool { return c >= 0x80 }) {
			t.Fatalf("Host %q, not ASCII, is routed to %q", host, rt.app)
		}
		if err := app.ValidName(rt.app); err != nil || h != rt.app+".example.com" && domains[h] != rt.app {
			t.Fatalf("Host %q (%q) is routed to %q", host, h, rt.app)
		}
		for _, same := range []string{strings.ToUpper(h), h + ".", h + ":8080", strings.ToUpper(h) + ".:443"} {
			if got := r.lookup(same); got != rt {
				t.Fatalf("Host %q is routed to %q, but %q to %v", host, rt.app, same, got)
			}
		}
	})
}

package router

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"pier/app"
)

// nodes is a forwarder to routers standing for other machines, by name.
type nodes map[string]*httptest.Server

func (n nodes) RoundTrip(req *http.Request) (*http.Response, error) {
	srv, ok := n[req.URL.Host]
	if !ok {
		return nil, &net.OpError{Op: "dial", Err: net.UnknownNetworkError(req.URL.Host)}
	}
	u, _ := url.Parse(srv.URL)
	req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	return http.DefaultTransport.RoundTrip(req)
}

// machine runs a router whose forwarded requests arrive as the cluster
// port hands them on.
func machine(t *testing.T) (*Router, *httptest.Server) {
	r := newRouter(t)
	srv := httptest.NewServer(http.HandlerFunc(r.ServeForwarded))
	t.Cleanup(srv.Close)
	return r, srv
}

// An app that runs on another machine is served through it, with the
// client's address and the host it asked for; a client cannot pass for
// another address; a request is forwarded once at most.
func TestRemoteRoutes(t *testing.T) {
	front := newRouter(t)
	b, bsrv := machine(t)
	c, csrv := machine(t)
	front.SetForwarder(nodes{"b": bsrv, "c": csrv}, func() string { return "a" })
	b.SetForwarder(nodes{"a": nil, "c": csrv}, func() string { return "b" })
	c.SetForwarder(nodes{"b": bsrv}, func() string { return "c" })
	addr := serve(t, front)

	b.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("b saw " + r.Host + " from " + r.Header.Get("X-Forwarded-For")))
	})})
	front.SetRemote("hello", []string{"b"})
	status, body := get(t, addr, "hello.localhost", "/", http.Header{headerClient: {"10.9.9.9"}})
	if status != 200 || body != "b saw hello.localhost from 127.0.0.1" {
		t.Errorf("through b: %d %q", status, body)
	}

	// Access rules are b's to check too, against the client's address.
	b.SetAccess("hello", app.AccessRules{Allow: []netip.Prefix{mustPrefix(t, "10.0.0.0/8")}})
	if status, _ := get(t, addr, "hello.localhost", "/", nil); status != http.StatusForbidden {
		t.Errorf("from a refused address: %d, want 403", status)
	}
	b.SetAccess("hello", app.AccessRules{})

	// The app moved from b to c before b's router learnt it: b forwards
	// it once more.
	c.Set("hello", []string{namedBackend(t, "c")})
	b.SetRemote("hello", []string{"c"})
	if status, body := get(t, addr, "hello.localhost", "/", nil); status != 200 || body != "c" {
		t.Errorf("moved on: %d %q, want c's answer", status, body)
	}
	// c has no instance yet and would send it back to b: it goes to the
	// one that runs it instead.
	b.SetRemote("hello", []string{"c", "d"})
	c.SetRemote("hello", []string{"b", "d"})
	d, dsrv := machine(t)
	d.Set("hello", []string{namedBackend(t, "d")})
	front.SetForwarder(nodes{"b": bsrv, "c": csrv, "d": dsrv}, func() string { return "a" })
	b.SetForwarder(nodes{"c": csrv, "d": dsrv}, func() string { return "b" })
	c.SetForwarder(nodes{"b": bsrv, "d": dsrv}, func() string { return "c" })
	for i := 0; i < 8; i++ {
		if status, body := get(t, addr, "hello.localhost", "/", nil); status != 200 || body != "d" {
			t.Errorf("through machines without instances: %d %q, want d's answer", status, body)
		}
	}
	// b and c each think the other runs it: two forwards, then a 502.
	b.SetRemote("hello", []string{"c"})
	c.SetRemote("hello", []string{"b"})
	if status, body := get(t, addr, "hello.localhost", "/", nil); status != http.StatusBadGateway || !strings.Contains(body, "hello") {
		t.Errorf("forwarding loop: %d %q, want 502", status, body)
	}
	// A machine not in a cluster forwards nowhere.
	alone := newRouter(t)
	alone.SetRemote("hello", []string{"b"})
	if status, _ := get(t, serve(t, alone), "hello.localhost", "/", nil); status != http.StatusBadGateway {
		t.Errorf("without a forwarder: %d, want 502", status)
	}
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	p, err := app.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

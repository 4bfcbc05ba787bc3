package sshd

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil // EOF: closed; a timeout is an error
}

func dialClient(t *testing.T, addr string, signer gossh.Signer) *gossh.Client {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "pier", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A connection that never gets to a session is dropped after the
// handshake timeout, whatever it trickles meanwhile.
func TestHandshakeTimeout(t *testing.T) {
	s := start(t, &keys{}, &cmds{}, func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("SSH-2.0-slow")) // never the line's end
	if !closedWithin(c, 3*time.Second) {
		t.Error("a stalled handshake was not cut off")
	}
}

// One address holds a bounded number of connections.
func TestConnectionsPerAddress(t *testing.T) {
	s := start(t, &keys{}, &cmds{})
	var held []net.Conn
	for range maxConnsPerAddr {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for deadline := time.Now().Add(3 * time.Second); s.perAddrCount("127.0.0.1") < maxConnsPerAddr; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server counted %d connections", s.perAddrCount("127.0.0.1"))
		}
	}
	extra, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !closedWithin(extra, 3*time.Second) {
		t.Errorf("connection %d from one address was kept", maxConnsPerAddr+1)
	}
	for _, c := range held {
		c.Close()
	}
	time.Sleep(200 * time.Millisecond) // the server sees them close
	again, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if closedWithin(again, 500*time.Millisecond) {
		t.Error("a connection after the others closed was refused")
	}
}

// One connection opens a bounded number of sessions at once, and each a
// bounded number of environment variables.
func TestSessionsAndEnvPerConnection(t *testing.T) {
	alice := newSigner(t)
	k := &keys{}
	k.add("alice", alice.PublicKey())
	s := start(t, k, &cmds{})
	c := dialClient(t, s.addr, alice)
	var open []*gossh.Session
	for range maxChannelsPerConn {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, sess)
	}
	if _, err := c.NewSession(); err == nil || !strings.Contains(err.Error(), "too many sessions") {
		t.Errorf("session %d on one connection: %v", maxChannelsPerConn+1, err)
	}
	accepted := 0
	for i := range 200 {
		if open[0].Setenv("V"+strings.Repeat("x", i%3), "1") == nil {
			accepted++
		}
	}
	if accepted > maxEnvRequests {
		t.Errorf("%d env requests accepted, want at most %d", accepted, maxEnvRequests)
	}
	if err := open[1].Setenv("BIG", strings.Repeat("x", maxEnvBytes)); err == nil {
		t.Error("an env request over the size bound was accepted")
	}
}

// A key pier does not know gets its refusal, and the connection ends.
func TestUnknownKeyIsCutOff(t *testing.T) {
	stranger := newSigner(t)
	s := start(t, &keys{}, &cmds{})
	c := dialClient(t, s.addr, stranger)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := sess.CombinedOutput("record")
	if !strings.Contains(string(out), "not registered") {
		t.Errorf("refusal: %q", out)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := c.NewSession(); err == nil {
		t.Error("the connection of an unknown key stayed open for more sessions")
	}
}

func (s *Server) perAddrCount(host string) int {
	s.perAddr.mu.Lock()
	defer s.perAddr.mu.Unlock()
	return s.perAddr.n[host]
}

// A connection that goes quiet, even with a session open, ends after the
// idle timeout.
func TestIdleTimeout(t *testing.T) {
	alice := newSigner(t)
	k := &keys{}
	k.add("alice", alice.PublicKey())
	s := start(t, k, &cmds{}, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := dialClient(t, s.addr, alice)
	if _, err := c.NewSession(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("an idle connection was kept past the idle timeout")
	}
}

// TestConnectionsFromManyAddresses checks that connections from ever new
// addresses cannot grow the per-address counts without bound: past
// maxConns open connections, a new address is refused too, and closing
// connections frees both the count and the entry.
func TestConnectionsFromManyAddresses(t *testing.T) {
	var p perAddr
	addr := func(i int) string { return fmt.Sprintf("127.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff) }
	for i := range maxConns {
		if !p.take(addr(i)) {
			t.Fatalf("connection %d from %s refused; want %d taken", i, addr(i), maxConns)
		}
	}
	if p.take(addr(maxConns)) {
		t.Fatalf("connection %d from a new address taken; want at most %d", maxConns+1, maxConns)
	}
	if len(p.n) != maxConns {
		t.Fatalf("got %d addresses counted, want %d", len(p.n), maxConns)
	}
	p.release(addr(0))
	p.release("127.255.255.255") // never taken: no effect
	if !p.take(addr(maxConns)) {
		t.Fatal("a connection refused after one closed")
	}
	for i := 1; i <= maxConns; i++ {
		p.release(addr(i))
	}
	if len(p.n) != 0 || p.total != 0 {
		t.Fatalf("got %d addresses and %d connections after all closed, want none", len(p.n), p.total)
	}
}

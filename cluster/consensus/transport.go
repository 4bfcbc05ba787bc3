package consensus

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer carries raft's traffic: connections accepted on a listener
// and dialed with a dial function, each optionally wrapped in TLS. It
// reports the advertised address, the one other machines dial, as its own.
type streamLayer struct {
	net.Listener
	advertise addr
	dial      func(ctx context.Context, address string) (net.Conn, error)
	clientTLS *tls.Config // nil: plain TCP
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// newStreamLayer builds the stream layer from cfg, listening on cfg.Addr
// unless cfg.Listener is set.
func newStreamLayer(cfg Config) (*streamLayer, error) {
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	advertise := cfg.Advertise
	if advertise == "" {
		advertise = ln.Addr().String()
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("listening on %s: set Advertise to an address other machines reach", advertise)
		}
	}
	if cfg.ServerTLS != nil {
		ln = tls.NewListener(ln, cfg.ServerTLS)
	}
	dial := cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, address string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", address)
		}
	}
	return &streamLayer{Listener: ln, advertise: addr(advertise), dial: dial, clientTLS: cfg.ClientTLS}, nil
}

// Dial opens a connection to another machine's raft address within
// timeout, TLS handshake included.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := s.dial(ctx, string(address))
	if err != nil || s.clientTLS == nil {
		return conn, err
	}
	cfg := s.clientTLS
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(string(address))
		if err != nil {
			conn.Close()
			return nil, err
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", address, err)
	}
	return tc, nil
}

// Addr is the address other machines dial.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// addr is a TCP address as given, "host:port".
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

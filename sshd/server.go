// Package sshd is pier's front door for people and git: an SSH server on TCP
// for registered keys, the same server on a root-only unix socket for the
// host CLI and git hooks, git push/fetch over both, the pre-receive hook that
// turns a push into a deploy, and the host CLI's client for the socket.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"pier/app"
	"pier/sshd/commands"
)

// Config configures a Server. Zero values take the documented defaults;
// fields without a default are required.
type Config struct {
	Addr        string // TCP listen address; default ":2222"
	HostKeyPath string // persistent ed25519 host key (PEM, 0600), generated on first start
	// SocketPath is the root-only unix socket for the host CLI and git hooks,
	// e.g. /run/pier/pier.sock. Its directory is created 0700 and the socket
	// is 0600: file permissions are the only authentication on it.
	SocketPath string
	GitDir     string // bare repositories live at GitDir/<app>.git
	// Binary is the absolute path of the pier executable; every repository's
	// pre-receive hook runs "<Binary> hook pre-receive".
	Binary string
	Log    *slog.Logger // default: discard
	// HandshakeTimeout bounds how long a connection may take to open its
	// first session (default 20s); IdleTimeout ends one that sent and
	// received nothing for that long (default 30m: a quiet build is quiet
	// for minutes).
	HandshakeTimeout, IdleTimeout time.Duration
	// MaxPush bounds the pack a push sends (default 512 MiB); the files of
	// the revision it deploys are bounded at 4 times that, unpacked, and
	// maxSourceFiles files.
	MaxPush int64
}

func (c *Config) validate() error {
	if c.Addr == "" {
		c.Addr = ":2222"
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MaxPush == 0 {
		c.MaxPush = 512 << 20
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 20 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	switch {
	case c.HostKeyPath == "":
		return errors.New("sshd: HostKeyPath is required")
	case c.SocketPath == "":
		return errors.New("sshd: SocketPath is required")
	case c.GitDir == "":
		return errors.New("sshd: GitDir is required")
	case !filepath.IsAbs(c.Binary):
		// Hooks run with the repository as their working directory.
		return fmt.Errorf("sshd: Binary %q must be an absolute path", c.Binary)
	}
	return nil
}

// Keys finds the registered key a client proved it holds; app.ErrNotFound if
// none. *app.Service implements it.
type Keys interface {
	KeyByFingerprint(ctx context.Context, fp string) (app.Key, error)
}

// Commands runs admin commands; *commands.Table implements it.
type Commands interface {
	Run(ctx context.Context, c commands.Call) int
}

var (
	_ Keys     = (*app.Auth)(nil)
	_ Commands = (*commands.Table)(nil)
)

// shutdownWait bounds how long Serve waits, after closing every connection,
// for session handlers to notice their cancelled context and return.
const shutdownWait = 10 * time.Second

// Server is the SSH server. Create it with New and call Serve once.
type Server struct {
	cfg    Config
	keys   Keys
	cmds   Commands
	log    *slog.Logger
	signer gossh.Signer

	mu       sync.Mutex
	closing  bool
	conns    map[net.Conn]struct{} // raw connections, handshaking or not
	handlers sync.WaitGroup        // running session handlers
	perAddr  perAddr
}

// New checks cfg and loads (or on first start creates) the host key.
func New(cfg Config, keys Keys, cmds Commands) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Log.With("component", "sshd")
	signer, err := loadHostKey(cfg.HostKeyPath, log)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, keys: keys, cmds: cmds, log: log, signer: signer,
		conns: map[net.Conn]struct{}{}}, nil
}

// Serve listens on cfg.Addr (public-key users) and cfg.SocketPath (root,
// unauthenticated) and serves both until ctx ends. A stale socket file left
// by a dead daemon is replaced; a live one is an error. When ctx ends Serve
// closes the listeners and every connection (cancelling running sessions,
// which kills their git processes), waits briefly for session handlers,
// removes the socket and returns nil. It returns an error if it cannot
// listen or a listener fails.
func (s *Server) Serve(ctx context.Context) error {
	tcp, unix, err := s.listen()
	if err != nil {
		return err
	}
	return s.serve(ctx, tcp, unix)
}

func (s *Server) listen() (tcp, unix net.Listener, err error) {
	path := s.cfg.SocketPath
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("sshd: socket directory: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, nil, err
	}
	unix, err = net.Listen("unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("sshd: listen on %s: %w", path, err)
	}
	// Between Listen and Chmod the socket has umask permissions; the 0700
	// directory covers that window when pier created it.
	if err := os.Chmod(path, 0o600); err != nil {
		unix.Close()
		return nil, nil, fmt.Errorf("sshd: chmod socket: %w", err)
	}
	tcp, err = net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		unix.Close()
		return nil, nil, fmt.Errorf("sshd: listen on %s: %w", s.cfg.Addr, err)
	}
	return tcp, unix, nil
}

// removeStaleSocket deletes a socket file nobody listens on. It refuses to
// touch anything that is not a socket, or a socket another daemon serves.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sshd: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("sshd: %s exists and is not a socket; refusing to replace it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("sshd: another pier daemon is listening on %s", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("sshd: remove stale socket: %w", err)
	}
	return nil
}

func (s *Server) serve(ctx context.Context, tcp, unix net.Listener) error {
	servers := []*ssh.Server{s.sshServer(false), s.sshServer(true)}
	listeners := []net.Listener{tcp, unix}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	s.log.Info("listening", "addr", tcp.Addr().String(), "socket", s.cfg.SocketPath,
		"host_key", gossh.FingerprintSHA256(s.signer.PublicKey()))

	var err error
	pending := len(servers)
	select {
	case <-ctx.Done():
	case err = <-errc:
		pending--
		err = fmt.Errorf("sshd: serve: %w", err)
	}

	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	for i, srv := range servers {
		listeners[i].Close() // also stops a Serve that has not started tracking it yet
		srv.Close()
	}
	for ; pending > 0; pending-- {
		<-errc
	}
	s.waitHandlers()
	return err
}

func (s *Server) waitHandlers() {
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownWait):
		s.log.Warn("session handlers still running after shutdown", "waited", shutdownWait)
	}
}

// sshServer builds the server for one listener. root servers skip client
// authentication: only root can open the socket.
func (s *Server) sshServer(root bool) *ssh.Server {
	srv := &ssh.Server{
		Version:     "pier",
		HostSigners: []ssh.Signer{s.signer},
		Handler:     s.handler(root),
		IdleTimeout: s.cfg.IdleTimeout,
		ConnCallback: func(ctx ssh.Context, c net.Conn) net.Conn {
			tc := s.track(c)
			if tc != nil {
				ctx.SetValue(connKey{}, tc)
				return tc
			}
			return nil
		},
		ChannelHandlers: map[string]ssh.ChannelHandler{"session": sessionChannels},
	}
	if !root {
		srv.ServerConfigCallback = publicKeyConfig
		// gliderlabs turns on NoClientAuth when none of its auth handlers is
		// set; this one keeps "none" auth refused and never prompts.
		srv.KeyboardInteractiveHandler = func(ssh.Context, gossh.KeyboardInteractiveChallenge) bool { return false }
	}
	return srv
}

// track registers a raw connection so shutdown can close it, or returns nil
// (gliderlabs then drops it) once shutdown began or its address, or the
// server, holds too many. A connection that opened no session within HandshakeTimeout is
// closed.
func (s *Server) track(c net.Conn) *trackedConn {
	host := hostOf(c)
	if host != "" && !s.perAddr.take(host) {
		s.log.Warn("connection refused: too many from one address, or in all", "remote", host, "max_per_address", maxConnsPerAddr, "max", maxConns)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		if host != "" {
			s.perAddr.release(host)
		}
		return nil
	}
	s.conns[c] = struct{}{}
	tc := &trackedConn{Conn: c, s: s, host: host}
	time.AfterFunc(s.cfg.HandshakeTimeout, func() {
		if !tc.opened.Load() {
			tc.Close()
		}
	})
	return tc
}

type trackedConn struct {
	net.Conn
	s        *Server
	host     string // counted in perAddr; "" for the socket
	once     sync.Once
	opened   atomic.Bool  // a session was opened: the handshake is over
	channels atomic.Int32 // sessions open now
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c.Conn)
		c.s.mu.Unlock()
		if c.host != "" {
			c.s.perAddr.release(c.host)
		}
	})
	return c.Conn.Close()
}

// beginHandler counts a session handler in, or reports false once shutdown
// began.
func (s *Server) beginHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	return true
}

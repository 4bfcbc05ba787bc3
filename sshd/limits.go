package sshd

import (
	"net"
	"sync"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// The SSH front door's bounds, beside Config's timeouts: the server
// holds at most maxConns TCP connections (and so as many addresses in
// perAddr), one address at most maxConnsPerAddr, and one connection at most
// maxChannelsPerConn sessions at once, each with at most maxEnvRequests
// environment variables of maxEnvBytes.
const (
	maxConns           = 1024
	maxConnsPerAddr    = 16
	maxChannelsPerConn = 8
	maxEnvRequests     = 16
	maxEnvBytes        = 4 << 10
)

// perAddr counts open TCP connections by client address. It holds an
// entry only for an address with a connection open, so at most maxConns.
type perAddr struct {
	mu    sync.Mutex
	n     map[string]int
	total int
}

// take counts a connection from addr in, or reports false if addr holds
// maxConnsPerAddr already or the server maxConns.
func (p *perAddr) take(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = map[string]int{}
	}
	if p.n[addr] >= maxConnsPerAddr || p.total >= maxConns {
		return false
	}
	p.n[addr]++
	p.total++
	return true
}

// release counts out a connection take counted in.
func (p *perAddr) release(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.n[addr]; !ok {
		return
	}
	p.total--
	if p.n[addr]--; p.n[addr] <= 0 {
		delete(p.n, addr)
	}
}

// hostOf is the client address a connection is counted by: the host of
// its TCP peer ("" for the socket, which is not counted).
func hostOf(c net.Conn) string {
	if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
		return ""
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

// connKey holds a connection's *trackedConn in its ssh.Context.
type connKey struct{}

// sessionChannels serves "session" channels within the connection's
// bounds: at most maxChannelsPerConn at once, their env requests capped.
func sessionChannels(srv *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	tc, _ := ctx.Value(connKey{}).(*trackedConn)
	if tc != nil {
		tc.opened.Store(true)
		if tc.channels.Add(1) > maxChannelsPerConn {
			tc.channels.Add(-1)
			newChan.Reject(gossh.ResourceShortage, "too many sessions on one connection")
			return
		}
		defer tc.channels.Add(-1)
	}
	ssh.DefaultSessionHandler(srv, conn, limitedChannel{newChan}, ctx)
}

// limitedChannel drops a session's env requests past the bounds.
type limitedChannel struct{ gossh.NewChannel }

func (c limitedChannel) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := c.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	out := make(chan *gossh.Request)
	go func() {
		defer close(out)
		envs := 0
		for r := range reqs {
			if r.Type == "env" {
				if envs++; envs > maxEnvRequests || len(r.Payload) > maxEnvBytes {
					if r.WantReply {
						r.Reply(false, nil)
					}
					continue
				}
			}
			out <- r
		}
	}()
	return ch, out, nil
}

// closeConn ends the connection a session belongs to.
func closeConn(ctx ssh.Context) {
	if tc, _ := ctx.Value(connKey{}).(*trackedConn); tc != nil {
		tc.Close()
	}
}

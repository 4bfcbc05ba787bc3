package sshd

import (
	"context"
	"errors"
	"fmt"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"pier/app"
	"pier/sshd/commands"
)

// fpExtension carries the fingerprint of the key that authenticated a TCP
// connection, in that connection's gossh.Permissions.
const fpExtension = "pier-fp"

// publicKeyConfig accepts every public key a client proves it holds; the
// session then decides, by fingerprint, whether the key is registered, so an
// unknown key gets a clear message instead of "Permission denied".
//
// Identity comes only from gossh.ServerConn.Permissions, which x/crypto
// (>= 0.31) fills from the callback call for the key whose signature
// verified. gliderlabs' PublicKeyHandler is not used: it records the last
// key offered, which a client can offer without holding it
// (CVE-2024-45337).
func publicKeyConfig(ssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		PublicKeyCallback: func(_ gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			return &gossh.Permissions{Extensions: map[string]string{fpExtension: gossh.FingerprintSHA256(key)}}, nil
		},
	}
}

// identify returns who runs sess: root on the socket, the registered key's
// name on TCP. On failure it returns the text for the client.
func (s *Server) identify(ctx context.Context, root bool) (commands.Identity, string) {
	if root {
		return commands.Identity{Name: "root", Root: true}, ""
	}
	conn, _ := ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	var fp string
	if conn != nil && conn.Permissions != nil {
		fp = conn.Permissions.Extensions[fpExtension]
	}
	if fp == "" {
		return commands.Identity{}, "pier: this connection did not authenticate with a public key"
	}
	k, err := s.keys.KeyByFingerprint(ctx, fp)
	if errors.Is(err, app.ErrNotFound) {
		return commands.Identity{}, fmt.Sprintf("pier: this key (%s) is not registered with pier. On the server run: pier ssh-keys:add NAME < key.pub", fp)
	}
	if err != nil {
		s.log.Error("look up key", "fingerprint", fp, "err", err)
		return commands.Identity{}, "pier: cannot check your key right now; try again later"
	}
	return commands.Identity{Name: k.Name, App: k.App}, ""
}

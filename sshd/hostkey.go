package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	gossh "golang.org/x/crypto/ssh"
)

// loadHostKey reads the PEM host key at path, or on first start generates
// an ed25519 key and writes it there with mode 0600 (directory 0700). The key
// must persist: clients pin it in known_hosts.
func loadHostKey(path string, log *slog.Logger) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		signer, err := gossh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("sshd: host key %s: %w", path, err)
		}
		return signer, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sshd: host key: %w", err)
	}

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshd: generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "pier host key")
	if err != nil {
		return nil, fmt.Errorf("sshd: encode host key: %w", err)
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(block)); err != nil {
		return nil, fmt.Errorf("sshd: write host key: %w", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sshd: host key: %w", err)
	}
	log.Info("generated SSH host key", "path", path, "fingerprint", gossh.FingerprintSHA256(signer.PublicKey()))
	return signer, nil
}

// writeFileAtomic writes data to path with mode 0600 (directory 0700) via a
// temporary file, a sync and a rename, so a crash never leaves a truncated
// key behind.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return renameio.WriteFile(path, data, 0o600, renameio.WithTempDir(dir))
}

package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"pier/cluster/pki"
)

// identity is what this machine keeps of its cluster: who it is in it and
// the keys it proves that with.
type identity struct {
	Name   string    `json:"name"`
	Role   pki.Role  `json:"role"`
	Addr   string    `json:"addr"`   // advertised cluster address, host:port
	Gossip string    `json:"gossip"` // advertised gossip address, host:port
	Peers  []string  `json:"peers"`  // gossip addresses to rejoin through
	Joined time.Time `json:"joined"`

	caCert   []byte // PEM
	caKey    []byte // PEM; nil on a worker
	nodeCert []byte // PEM
	nodeKey  []byte // PEM
	gossip   []byte // the gossip key
}

// Files of an identity in its directory.
const (
	fileNode   = "node.json"
	fileCACert = "ca.crt"
	fileCAKey  = "ca.key"
	fileCert   = "node.crt"
	fileKey    = "node.key"
	fileGossip = "gossip.key"
)

// errNoIdentity: the directory holds no identity, this machine is in no
// cluster.
var errNoIdentity = errors.New("this machine is not in a cluster")

// loadIdentity reads the identity in dir; errNoIdentity if there is none.
func loadIdentity(dir string) (*identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, fileNode))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoIdentity
	}
	if err != nil {
		return nil, err
	}
	id := &identity{}
	if err := json.Unmarshal(b, id); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, fileNode), err)
	}
	read := func(name string, optional bool) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = os.ReadFile(filepath.Join(dir, name))
		if optional && errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		return b
	}
	id.caCert, id.caKey = read(fileCACert, false), read(fileCAKey, true)
	id.nodeCert, id.nodeKey = read(fileCert, false), read(fileKey, false)
	hexKey := read(fileGossip, false)
	if err != nil {
		return nil, fmt.Errorf("read this machine's cluster identity: %w", err)
	}
	if id.gossip, err = hex.DecodeString(strings.TrimSpace(string(hexKey))); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, fileGossip), err)
	}
	return id, nil
}

// save writes the identity into dir, node.json last: an identity without
// it is none, so a save cut short leaves this machine in no cluster.
func (id *identity) save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{fileCACert, id.caCert}, {fileCAKey, id.caKey}, {fileCert, id.nodeCert}, {fileKey, id.nodeKey},
		{fileGossip, []byte(hex.EncodeToString(id.gossip) + "\n")},
	}
	for _, f := range files {
		if f.data == nil {
			continue
		}
		if err := renameio.WriteFile(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return id.saveNode(dir)
}

// saveNode rewrites node.json alone (its peers change).
func (id *identity) saveNode(dir string) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return renameio.WriteFile(filepath.Join(dir, fileNode), append(b, '\n'), 0o600)
}

// remove deletes the identity, node.json first (see save), and the log.
func removeIdentity(dir string) error {
	if err := os.Remove(filepath.Join(dir, fileNode)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(dir)
}

// keys are an identity's keys, parsed.
type keys struct {
	cert tls.Certificate
	pool *x509.CertPool
	ca   *pki.CA // nil on a worker
	pin  string
}

func (id *identity) keys() (*keys, error) {
	caCert, err := pki.ParseCertPEM(id.caCert)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	k := &keys{pool: x509.NewCertPool(), pin: pki.Pin(caCert)}
	k.pool.AddCert(caCert)
	if k.cert, err = pki.NodeCertificate(id.nodeCert, id.nodeKey, caCert); err != nil {
		return nil, fmt.Errorf("this machine's certificate: %w", err)
	}
	if id.caKey != nil {
		if k.ca, err = pki.LoadCA(id.caCert, id.caKey); err != nil {
			return nil, fmt.Errorf("cluster CA: %w", err)
		}
	}
	return k, nil
}

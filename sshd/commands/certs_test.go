package commands

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate for names and its PEM key.
func selfSigned(t *testing.T, names ...string) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestCertsAdd(t *testing.T) {
	cert, key := selfSigned(t, "hello.example.com")
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for name, b := range map[string][]byte{"server.crt": cert, "server.key": key} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	for _, tt := range []struct {
		name  string
		args  []string
		stdin []byte
		code  int
		call  string
		err   string
	}{
		{"pem", []string{"certs:add", "hello"}, append(append([]byte{}, cert...), key...), 0, "AddCert hello cert=1 key=1", ""},
		{"key first", []string{"certs:add", "hello"}, append(append([]byte{}, key...), cert...), 0, "AddCert hello cert=1 key=1", ""},
		{"dokku's tar", []string{"certs:add", "hello"}, tarball.Bytes(), 0, "AddCert hello cert=1 key=1", ""},
		{"no key", []string{"certs:add", "hello"}, cert, 2, "", "no PEM private key"},
		{"garbage", []string{"certs:add", "hello"}, []byte("hello"), 2, "", "neither PEM nor a tar"},
		{"too large", []string{"certs:add", "hello"}, bytes.Repeat([]byte("-----BEGIN x"), 20000), 2, "", "more than 128 KiB"},
		{"files as arguments", []string{"certs:add", "hello", "server.crt", "server.key"}, nil, 2, "", "cat server.crt server.key |"},
		{"bad app", []string{"certs:add", "Hello"}, cert, 2, "", "invalid"},
		{"remove", []string{"certs:remove", "hello"}, nil, 0, "RemoveCert hello", ""},
		{"report is domains:report", []string{"certs:report", "hello"}, nil, 0, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			p.CreateApp(context.Background(), "hello")
			p.calls = nil
			var stdout, stderr bytes.Buffer
			code := newTable(p).Run(context.Background(), Call{User: Identity{Name: "root", Root: true}, Args: tt.args,
				Stdin: bytes.NewReader(tt.stdin), Stdout: &stdout, Stderr: &stderr})
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if got := strings.Join(p.calls, "; "); got != tt.call {
				t.Errorf("calls %q, want %q", got, tt.call)
			}
			if !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.err)
			}
		})
	}
}

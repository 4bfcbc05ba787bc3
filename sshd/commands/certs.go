package commands

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"pier/app"
)

// Certs is what the commands need of pier's HTTPS; the router implements it.
type Certs interface {
	// CARoot is the root certificate (PEM) of pier's internal CA.
	CARoot() []byte
	// Certificate reports a host's certificate.
	Certificate(ctx context.Context, host string) app.CertStatus
}

// caExport prints the internal CA's root certificate, for users to trust.
func (t *Table) caExport(ctx context.Context, c Call, args []string) error {
	if len(args) != 0 {
		return badUsage("")
	}
	if t.info.Certs == nil {
		return errors.New("HTTPS is disabled (pier serve --https \"\"): there is no CA to export")
	}
	_, err := c.Stdout.Write(t.info.Certs.CARoot())
	return err
}

// certsBackend is what certs:add and certs:remove use.
type certsBackend interface {
	AddCert(ctx context.Context, name string, c app.AppCert) ([]string, error)
	RemoveCert(ctx context.Context, name string) error
}

// certsCommands are certs:add and certs:remove; certs:report is
// domains:report.
type certsCommands struct{ p certsBackend }

// maxCertInput bounds what certs:add reads from stdin.
const maxCertInput = 128 << 10

// certsAdd reads a certificate chain and its key from stdin, as PEM (cat
// server.crt server.key) or as Dokku's tar of a .crt and a .key file.
func (h certsCommands) certsAdd(ctx context.Context, c Call, args []string) error {
	if len(args) != 1 {
		if len(args) == 3 {
			return badUsage("the certificate comes on stdin: cat %s %s | ssh pier@HOST certs:add %s", args[1], args[2], args[0])
		}
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	in, err := io.ReadAll(io.LimitReader(c.Stdin, maxCertInput+1))
	if err != nil {
		return err
	}
	if len(in) > maxCertInput {
		return badUsage("more than %d KiB on stdin: give the certificate chain and its key only", maxCertInput>>10)
	}
	cert, err := readCertInput(in)
	if err != nil {
		return badUsage("%v; give the certificate chain and its key as PEM (cat server.crt server.key | ssh pier@HOST certs:add %s) or a tar of a .crt and a .key file", err, args[0])
	}
	hosts, err := h.p.AddCert(ctx, args[0], cert)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> %s serves its own certificate for %s (certs:remove %s goes back to obtained ones)\n",
		args[0], strings.Join(hosts, ", "), args[0])
	return nil
}

func (h certsCommands) certsRemove(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		if err := h.p.RemoveCert(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "-----> %s's own certificate is removed; pier obtains its certificates again\n", name)
		return nil
	})
}

// readCertInput finds the certificate blocks and the private key in in:
// PEM, or a tar holding them (.crt/.pem and .key files).
func readCertInput(in []byte) (app.AppCert, error) {
	if isTar(in) || !bytes.Contains(in, []byte("-----BEGIN")) {
		var err error
		if in, err = untarPEM(in); err != nil {
			return app.AppCert{}, err
		}
	}
	var cert, key []byte
	for rest := in; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			cert = append(cert, pem.EncodeToMemory(b)...)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if key != nil {
				return app.AppCert{}, errors.New("two private keys")
			}
			key = pem.EncodeToMemory(b)
		}
	}
	switch {
	case cert == nil:
		return app.AppCert{}, errors.New("no PEM certificate")
	case key == nil:
		return app.AppCert{}, errors.New("no PEM private key")
	}
	return app.AppCert{CertPEM: string(cert), KeyPEM: string(key)}, nil
}

// isTar reports whether in starts with a POSIX tar header.
func isTar(in []byte) bool { return len(in) >= 512 && string(in[257:262]) == "ustar" }

// untarPEM concatenates the files of a tar archive (at most 8).
func untarPEM(in []byte) ([]byte, error) {
	tr := tar.NewReader(bytes.NewReader(in))
	var out []byte
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errors.New("neither PEM nor a tar archive")
		}
		if i >= 8 {
			return nil, errors.New("more than 8 files in the tar archive")
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxCertInput))
		if err != nil {
			return nil, err
		}
		out = append(append(out, b...), '\n')
	}
	return out, nil
}

package commands

import (
	"context"
	"errors"

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

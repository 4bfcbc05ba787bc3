package commands

import (
	"context"
	"fmt"
	"time"

	"pier/app"
)

// domainsBackend is what the domains:* commands use: an app's hosts.
type domainsBackend interface {
	Domains(ctx context.Context, name string) ([]string, error)
	AddDomain(ctx context.Context, name, domain string) error
	RemoveDomain(ctx context.Context, name, domain string) error
}

// domainsCommands are domains:add, remove and report.
type domainsCommands struct {
	p     domainsBackend
	certs Certs // Info.Certs; nil when HTTPS is disabled
}

// maxDomainsPerCall bounds the domains one domains:add or domains:remove
// names.
const maxDomainsPerCall = 32

// domainsAdd parses "APP DOMAIN...": every domain is checked before any
// is added.
func (h domainsCommands) domainsAdd(ctx context.Context, c Call, args []string) error {
	name, domains, err := appAndDomains(args)
	if err != nil {
		return err
	}
	for _, domain := range domains {
		if err := h.p.AddDomain(ctx, name, domain); err != nil {
			return err
		}
		d, _ := app.ValidDomain(domain)
		fmt.Fprintf(c.Stdout, "-----> %s answers at %s too\n", name, d)
		if h.certs != nil {
			fmt.Fprintf(c.Stdout, "       its certificate is on its way once DNS for %s points here: domains:report %s\n", d, name)
		}
	}
	return nil
}

func (h domainsCommands) domainsRemove(ctx context.Context, c Call, args []string) error {
	name, domains, err := appAndDomains(args)
	if err != nil {
		return err
	}
	for _, domain := range domains {
		if err := h.p.RemoveDomain(ctx, name, domain); err != nil {
			return err
		}
		d, _ := app.ValidDomain(domain)
		fmt.Fprintf(c.Stdout, "-----> %s no longer answers at %s\n", name, d)
	}
	return nil
}

// appAndDomains parses "APP DOMAIN...", every domain valid.
func appAndDomains(args []string) (string, []string, error) {
	if len(args) < 2 {
		return "", nil, badUsage("")
	}
	if len(args)-1 > maxDomainsPerCall {
		return "", nil, badUsage("%d domains: at most %d at once", len(args)-1, maxDomainsPerCall)
	}
	if err := app.ValidName(args[0]); err != nil {
		return "", nil, badUsage("%v", err)
	}
	for _, d := range args[1:] {
		if _, err := app.ValidDomain(d); err != nil {
			return "", nil, badUsage("%v", err)
		}
	}
	return args[0], args[1:], nil
}

// domainsReport lists an app's hosts with their certificates' status and
// expiry. With --format json: an array of app.CertStatus.
func (h domainsCommands) domainsReport(ctx context.Context, c Call, args []string) error {
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	hosts, err := h.p.Domains(ctx, name)
	if err != nil {
		return err
	}
	rows := app.HostCertificates(ctx, h.certs, hosts)
	if asJSON {
		return writeJSON(c.Stdout, rows)
	}
	fmt.Fprintf(c.Stdout, "=== %s domains\n", name)
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "HOST\tCERTIFICATE\tEXPIRES\tISSUER")
	for _, r := range rows {
		expires := "-"
		if !r.NotAfter.IsZero() {
			expires = r.NotAfter.UTC().Format(time.DateTime) + " UTC"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Host, r.Status, expires, orDash(r.Issuer))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Status == "failing" {
			fmt.Fprintf(c.Stdout, "%s: %s (next try about %s UTC)\n", r.Host, r.LastError, r.NextTry.Format(time.DateTime))
		}
	}
	return nil
}

package commands

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"pier/app"
)

// domainsAdd parses "APP DOMAIN".
func (t *Table) domainsAdd(ctx context.Context, c Call, args []string) error {
	name, domain, err := appAndDomain(args)
	if err != nil {
		return err
	}
	if err := t.p.AddDomain(ctx, name, domain); err != nil {
		return err
	}
	d, _ := app.ValidDomain(domain)
	fmt.Fprintf(c.Stdout, "-----> %s answers at %s too\n", name, d)
	if t.info.Certs != nil {
		fmt.Fprintf(c.Stdout, "       its certificate is on its way once DNS for %s points here: domains:report %s\n", d, name)
	}
	return nil
}

func (t *Table) domainsRemove(ctx context.Context, c Call, args []string) error {
	name, domain, err := appAndDomain(args)
	if err != nil {
		return err
	}
	if err := t.p.RemoveDomain(ctx, name, domain); err != nil {
		return err
	}
	d, _ := app.ValidDomain(domain)
	fmt.Fprintf(c.Stdout, "-----> %s no longer answers at %s\n", name, d)
	return nil
}

func appAndDomain(args []string) (string, string, error) {
	if len(args) != 2 {
		return "", "", badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return "", "", badUsage("%v", err)
	}
	if _, err := app.ValidDomain(args[1]); err != nil {
		return "", "", badUsage("%v", err)
	}
	return args[0], args[1], nil
}

// domainsReport lists an app's hosts with their certificates' status and
// expiry. With --format json: an array of app.CertStatus.
func (t *Table) domainsReport(ctx context.Context, c Call, args []string) error {
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	hosts, err := t.p.Domains(ctx, name)
	if err != nil {
		return err
	}
	rows := app.HostCertificates(ctx, t.info.Certs, hosts)
	if asJSON {
		return writeJSON(c.Stdout, rows)
	}
	fmt.Fprintf(c.Stdout, "=== %s domains\n", name)
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCERTIFICATE\tEXPIRES\tISSUER")
	for _, r := range rows {
		expires := "-"
		if !r.NotAfter.IsZero() {
			expires = r.NotAfter.UTC().Format(time.DateTime) + " UTC"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Host, r.Status, expires, orDash(r.Issuer))
	}
	return tw.Flush()
}

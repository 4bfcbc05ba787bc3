package commands

// Dokku's commands that pier's own do in part: apps:exists, config:keys,
// config:export, config:clear, domains:set and domains:clear.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"pier/app"
)

// appsExists exits 0 if the app exists, 1 saying so if not (Dokku's
// apps:exists, for scripts).
func (h appsCommands) appsExists(ctx context.Context, c Call, args []string) error {
	name, _, err := appAndFlags(args)
	if err != nil {
		return err
	}
	if _, err := h.p.App(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%s exists\n", name)
	return nil
}

// configKeys prints an app's config var names, one a line.
func (h configCommands) configKeys(ctx context.Context, c Call, args []string) error {
	name, _, err := appAndFlags(args)
	if err != nil {
		return err
	}
	cfg, err := h.p.Config(ctx, name)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		fmt.Fprintln(c.Stdout, k)
	}
	return nil
}

// configExport prints an app's config as shell exports (the default) or
// an env file (--format envfile), values quoted for the shell.
func (h configCommands) configExport(ctx context.Context, c Call, args []string) error {
	name, flags, err := appAndFlags(args, "--format")
	if err != nil {
		return err
	}
	format := flags["--format"]
	switch format {
	case "", "exports", "shell":
		format = "export "
	case "envfile":
		format = ""
	default:
		return badUsage("--format %q: want exports or envfile", format)
	}
	cfg, err := h.p.Config(ctx, name)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		fmt.Fprintf(c.Stdout, "%s%s=%s\n", format, k, shellQuote(cfg[k]))
	}
	return nil
}

// shellQuote quotes s for a POSIX shell: in single quotes, each ' as '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// configClear unsets every config var of an app: one new release, or none
// with --no-restart.
func (h configCommands) configClear(ctx context.Context, c Call, args []string) error {
	noRestart := slices.Contains(args, "--no-restart")
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--no-restart" })
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		return badUsage("config:clear takes no keys (config:unset removes some)")
	}
	name, _, err := appAndFlags(args)
	if err != nil {
		return err
	}
	cfg, err := h.p.Config(ctx, name)
	if err != nil {
		return err
	}
	return h.p.ChangeConfig(ctx, app.ConfigChange{App: name, Unset: slices.Sorted(maps.Keys(cfg)),
		NoRestart: noRestart, User: c.User.Name, Out: c.Stdout})
}

// domainsSet makes an app's custom domains exactly those given.
func (h domainsCommands) domainsSet(ctx context.Context, c Call, args []string) error {
	name, domains, err := appAndDomains(args)
	if err != nil {
		return err
	}
	return h.setDomains(ctx, c, name, domains)
}

// domainsClear removes every custom domain of an app.
func (h domainsCommands) domainsClear(ctx context.Context, c Call, args []string) error {
	name, _, err := appAndFlags(args)
	if err != nil {
		return err
	}
	return h.setDomains(ctx, c, name, nil)
}

func (h domainsCommands) setDomains(ctx context.Context, c Call, name string, domains []string) error {
	hosts, err := h.p.Domains(ctx, name)
	if err != nil {
		return err
	}
	have := hosts[1:] // the first is the app's own host
	want := map[string]bool{}
	for _, d := range domains {
		v, _ := app.ValidDomain(d)
		want[v] = true
	}
	for _, d := range have {
		if !want[d] {
			if err := h.p.RemoveDomain(ctx, name, d); err != nil {
				return err
			}
			fmt.Fprintf(c.Stdout, "-----> %s no longer answers at %s\n", name, d)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(want)) {
		if !slices.Contains(have, d) {
			if err := h.p.AddDomain(ctx, name, d); err != nil {
				return err
			}
			fmt.Fprintf(c.Stdout, "-----> %s answers at %s too\n", name, d)
		}
	}
	if len(want) == 0 && len(have) == 0 {
		fmt.Fprintf(c.Stdout, "%s has no custom domains\n", name)
	}
	return nil
}

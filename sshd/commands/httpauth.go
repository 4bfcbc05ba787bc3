package commands

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"

	"pier/app"
)

// accessBackend is what the http-auth:* commands use: an app's access
// rules (basic auth, its users, allowed networks).
type accessBackend interface {
	AccessOf(ctx context.Context, name string) (app.AccessReport, error)
	SetHTTPAuth(ctx context.Context, name string, on bool) error
	AddHTTPUser(ctx context.Context, name, user, password string) error
	RemoveHTTPUser(ctx context.Context, name, user string) error
	AddAllowedIP(ctx context.Context, name, network string) error
	RemoveAllowedIP(ctx context.Context, name, network string) error
}

// accessCommands are the http-auth:* commands.
type accessCommands struct{ p accessBackend }

// httpAuthEnable parses "APP [USER PASS]": basic auth on, with a user added
// first if given.
func (h accessCommands) httpAuthEnable(ctx context.Context, c Call, args []string) error {
	if len(args) != 1 && len(args) != 3 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	if len(args) == 3 {
		if err := h.p.AddHTTPUser(ctx, args[0], args[1], args[2]); err != nil {
			return err
		}
	}
	if err := h.p.SetHTTPAuth(ctx, args[0], true); err != nil {
		return err
	}
	return h.httpAuthShow(ctx, c, args[0])
}

func (h accessCommands) httpAuthDisable(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		if err := h.p.SetHTTPAuth(ctx, name, false); err != nil {
			return err
		}
		return h.httpAuthShow(ctx, c, name)
	})
}

// httpAuthAddUser parses "APP USER [PASS]"; without PASS the password is
// the first line of stdin (kept out of shell history and the process list).
func (h accessCommands) httpAuthAddUser(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 && len(args) != 3 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	pass := ""
	if len(args) == 3 {
		pass = args[2]
	} else {
		line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
		pass = strings.TrimRight(line, "\r\n")
	}
	if pass == "" {
		return badUsage("no password: give it as an argument or on stdin")
	}
	if err := h.p.AddHTTPUser(ctx, args[0], args[1], pass); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> %s may sign in to %s\n", args[1], args[0])
	return nil
}

func (h accessCommands) httpAuthRemoveUser(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	if err := h.p.RemoveHTTPUser(ctx, args[0], args[1]); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> %s may no longer sign in to %s\n", args[1], args[0])
	return nil
}

func (h accessCommands) httpAuthAddIP(ctx context.Context, c Call, args []string) error {
	return h.changeAllowed(ctx, c, args, h.p.AddAllowedIP)
}

func (h accessCommands) httpAuthRemoveIP(ctx context.Context, c Call, args []string) error {
	return h.changeAllowed(ctx, c, args, h.p.RemoveAllowedIP)
}

func (h accessCommands) changeAllowed(ctx context.Context, c Call, args []string, change func(ctx context.Context, name, network string) error) error {
	if len(args) != 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	if _, err := app.ParsePrefix(args[1]); err != nil {
		return badUsage("%v", err)
	}
	if err := change(ctx, args[0], args[1]); err != nil {
		return err
	}
	return h.httpAuthShow(ctx, c, args[0])
}

func (h accessCommands) httpAuthReport(ctx context.Context, c Call, args []string) error {
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	if !asJSON {
		return h.httpAuthShow(ctx, c, name)
	}
	rep, err := h.p.AccessOf(ctx, name)
	if err != nil {
		return err
	}
	return writeJSON(c.Stdout, rep)
}

// httpAuthShow prints an app's access rules and what they mean.
func (h accessCommands) httpAuthShow(ctx context.Context, c Call, name string) error {
	rep, err := h.p.AccessOf(ctx, name)
	if err != nil {
		return err
	}
	allowed := slices.Clone(rep.Allow)
	for _, n := range rep.AllowManifest {
		if rep.ManifestIgnored {
			allowed = append(allowed, n+" (app.json, ignored: the rules above are an admin's)")
		} else {
			allowed = append(allowed, n+" (app.json)")
		}
	}
	auth := "off"
	if rep.Auth {
		auth = "on, users: " + orDash(strings.Join(rep.Users, ", "))
	}
	fmt.Fprintf(c.Stdout, "=== %s access rules\n", name)
	fmt.Fprintf(c.Stdout, "basic auth:   %s\n", auth)
	fmt.Fprintf(c.Stdout, "allowed:      %s\n", orDash(strings.Join(allowed, ", ")))
	switch {
	case rep.Auth && len(allowed) > 0:
		fmt.Fprintln(c.Stdout, "requests from allowed networks pass; others need a user's password (401)")
	case rep.Auth:
		fmt.Fprintln(c.Stdout, "every request needs a user's password (401 without)")
	case len(allowed) > 0:
		fmt.Fprintln(c.Stdout, "only requests from allowed networks pass (403 for others)")
	default:
		fmt.Fprintln(c.Stdout, "open to everyone")
	}
	return nil
}

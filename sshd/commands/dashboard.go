package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Dashboard is what admin:password and admin:login need; *app.Service
// implements it.
type Dashboard interface {
	SetAdminPassword(ctx context.Context, password string) error
	NewLoginToken() (token string, expires time.Time)
}

// adminPassword sets the dashboard's admin password from the first line of
// stdin, so that it shows neither in the shell's history nor in ps.
func (t *Table) adminPassword(ctx context.Context, c Call, args []string) error {
	if len(args) != 0 {
		return badUsage("")
	}
	if t.info.Dashboard == nil {
		return errors.New("this pier has no dashboard")
	}
	fmt.Fprint(c.Stderr, "New admin password (one line, at least 10 characters): ")
	line, err := bufio.NewReader(io.LimitReader(c.Stdin, 1024)).ReadString('\n')
	fmt.Fprintln(c.Stderr)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return badUsage("no password on stdin: echo the password into admin:password, or type it")
	}
	if err := t.info.Dashboard.SetAdminPassword(ctx, pw); err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, "-----> Admin password set: log in at")
	for _, u := range t.info.DashboardURLs {
		fmt.Fprintf(c.Stdout, "       %s/login\n", u)
	}
	return nil
}

// adminLogin prints a one-time login link for the dashboard.
func (t *Table) adminLogin(_ context.Context, c Call, args []string) error {
	if len(args) != 0 {
		return badUsage("")
	}
	if t.info.Dashboard == nil {
		return errors.New("this pier has no dashboard")
	}
	tok, exp := t.info.Dashboard.NewLoginToken()
	fmt.Fprintf(c.Stdout, "-----> Open one of these within %s (until %s); it works once:\n",
		time.Until(exp).Round(time.Minute), exp.Local().Format(time.TimeOnly))
	for _, u := range t.info.DashboardURLs {
		fmt.Fprintf(c.Stdout, "       %s/login?token=%s\n", u, tok)
	}
	return nil
}

package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"

	"pier/app"
	"pier/ratelimit"
)

// authBackend is what logging in checks: the admin password and one-time
// login links; and the audit log that records each login.
type authBackend interface {
	CheckAdminPassword(ctx context.Context, password string) error
	AdminPasswordStamp(ctx context.Context) (string, error)
	Record(ctx context.Context, e app.Event)
}

// Failed logins (a wrong password or login link) are limited per client
// address: after maxFailures within failureWindow, logins from there get a
// 429 with Retry-After until the oldest failure is older than the window.
// The address is the connection's: the dashboard is reached directly or
// through pier's own router, never through a proxy whose forwarded-for
// headers could be trusted.
const (
	maxFailures   = 5
	failureWindow = time.Minute
)

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// anonSession returns the visitor's session, starting one if needed, so
// the login forms carry a CSRF token.
func (d *Dashboard) anonSession(c echo.Context) *session {
	if s := sessionOf(c); s != nil {
		return s
	}
	s, id := d.sessions.create(false)
	setCookie(c, id, anonTTL)
	c.Set(sessionKey, s)
	return s
}

// loginPage shows the password form or, for a login link
// (/login?token=...), a button that logs in with the link's token. A GET
// does not use the token up, so that a link preview cannot spend it; the
// token is in the query, which pier's access log leaves out.
func (d *Dashboard) loginPage(c echo.Context) error {
	tok := c.QueryParam("token")
	if s := sessionOf(c); s != nil && s.admin && tok == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	d.anonSession(c)
	return d.render(c, http.StatusOK, "login", map[string]any{"Title": "Log in", "Token": tok})
}

// login checks the admin password.
func (d *Dashboard) login(c echo.Context) error {
	ip := clientIP(c.Request())
	if err := d.limited(c, ip); err != nil {
		return err
	}
	err := d.auth.CheckAdminPassword(c.Request().Context(), c.FormValue("password"))
	switch {
	case errors.Is(err, app.ErrWrongPassword):
		d.log.Warn("dashboard login refused: wrong password", "client", ip)
		return d.render(c, http.StatusUnauthorized, "login", map[string]any{"Title": "Log in",
			"Error": "Wrong password."})
	case errors.Is(err, app.ErrNoPassword):
		d.limiter.Succeeded(limitKey(ip))
		return d.render(c, http.StatusUnauthorized, "login", map[string]any{"Title": "Log in", "Error": err.Error()})
	case err != nil:
		d.limiter.Succeeded(limitKey(ip))
		return err
	}
	d.limiter.Succeeded(limitKey(ip))
	return d.startAdmin(c, "password", ip)
}

// loginLink logs in with a one-time token from admin:login.
func (d *Dashboard) loginLink(c echo.Context) error {
	ip := clientIP(c.Request())
	if err := d.limited(c, ip); err != nil {
		return err
	}
	if !d.tokens.RedeemLoginToken(c.FormValue("token")) {
		d.log.Warn("dashboard login refused: unknown or used login link", "client", ip)
		return d.render(c, http.StatusUnauthorized, "login", map[string]any{"Title": "Log in",
			"Error": "This login link is unknown, used or expired: run pier admin:login for a new one."})
	}
	d.limiter.Succeeded(limitKey(ip))
	return d.startAdmin(c, "login link", ip)
}

// limitKey is what failed logins from ip are counted by.
func limitKey(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return ratelimit.Key(a)
	}
	return ip
}

// limited answers 429 if ip failed too often lately; else it counts this
// attempt as failed until the caller says it succeeded.
func (d *Dashboard) limited(c echo.Context, ip string) error {
	wait := d.limiter.Attempt(limitKey(ip))
	if wait <= 0 {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", itoa(secs))
	return d.render(c, http.StatusTooManyRequests, "login", map[string]any{"Title": "Log in",
		"Error": fmt.Sprintf("Too many failed logins from your address: try again in %d seconds.", secs)})
}

// startAdmin replaces the visitor's session with a new admin session.
func (d *Dashboard) startAdmin(c echo.Context, how, ip string) error {
	if s := sessionOf(c); s != nil {
		d.sessions.delete(s)
	}
	ns, id := d.sessions.create(true)
	stamp, err := d.auth.AdminPasswordStamp(c.Request().Context())
	if err != nil {
		d.sessions.delete(ns)
		return err
	}
	ns.stamp = stamp
	setCookie(c, id, d.cfg.SessionTTL)
	d.auth.Record(c.Request().Context(), app.Event{Who: who, Action: "login", Detail: how + " from " + ip})
	return c.Redirect(http.StatusSeeOther, "/")
}

func (d *Dashboard) logout(c echo.Context) error {
	if s := sessionOf(c); s != nil {
		d.sessions.delete(s)
	}
	setCookie(c, "", 0)
	return c.Redirect(http.StatusSeeOther, "/login")
}

package router

import (
	"net/http"
	"strings"

	"pier/app"
)

// hsts is the Strict-Transport-Security of the dashboard's HTTPS
// responses: a year, as browsers' preload lists ask.
const hsts = "max-age=31536000"

// SetDashboard makes the router serve h for requests to pier.<domain>
// (app.ReservedName: no app can take that name). With HTTPS and a public
// domain, h is served over HTTPS only (see serveDashboard).
func (r *Router) SetDashboard(h http.Handler) { r.dashboard.Store(&h) }

// isDashboard reports whether host names the dashboard.
func (r *Router) isDashboard(host string) bool {
	name, ok := r.appName(host)
	return ok && name == app.ReservedName
}

// DashboardURL is where the dashboard answers through the router.
func (r *Router) DashboardURL() string { return r.URL(app.ReservedName) }

// serveDashboard answers a request for pier.<domain> with dash.
//
// With HTTPS enabled and a public domain, the login page never goes out
// over plain HTTP: a plain HTTP request is redirected
// to HTTPS even before pier.<domain> has its certificate (EnableTLS asks
// for it at start), an ACME HTTP-01 challenge certmagic did not answer
// gets a 404 rather than the dashboard, and every HTTPS response carries
// HSTS. Apps' hosts are redirected only once they have a certificate, and
// their headers are the apps' own.
//
// Internal names (the default domain, localhost) and a router without
// HTTPS serve dash over plain HTTP, without HSTS: pier's CA is trusted only
// where it was installed, and HSTS would lock out every other browser.
func (r *Router) serveDashboard(w http.ResponseWriter, req *http.Request, dash http.Handler) {
	if r.tls == nil || IsInternal(r.domain) {
		dash.ServeHTTP(w, req)
		return
	}
	if req.TLS != nil {
		w.Header().Set("Strict-Transport-Security", hsts)
		dash.ServeHTTP(w, req)
		return
	}
	if strings.HasPrefix(req.URL.Path, acmeChallengePath) {
		writePage(w, http.StatusNotFound, notFoundPage)
		return
	}
	r.tls.toHTTPS(w, req)
}

package router

import (
	"net/http"

	"pier/app"
)

// SetDashboard makes the router serve h for requests to pier.<domain>
// (app.ReservedName: no app can take that name), redirected to HTTPS once
// that host has a public certificate, as apps' hosts are.
func (r *Router) SetDashboard(h http.Handler) { r.dashboard.Store(&h) }

// isDashboard reports whether host names the dashboard.
func (r *Router) isDashboard(host string) bool {
	name, ok := r.appName(host)
	return ok && name == app.ReservedName
}

// DashboardURL is where the dashboard answers through the router.
func (r *Router) DashboardURL() string { return r.URL(app.ReservedName) }

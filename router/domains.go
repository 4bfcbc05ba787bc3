package router

import (
	"slices"
	"strings"
)

// SetDomains implements app.Routes: requests for each of domains (custom
// domains, lowercase, no port) go to app's backends, replacing the domains
// app had. A domain another app had moves to app. With HTTPS enabled, new
// domains get certificates and removed ones stop being renewed.
func (r *Router) SetDomains(app string, domains []string) {
	app = strings.ToLower(app)
	var added, removed []string
	r.mu.Lock()
	old := *r.domains.Load()
	next := make(map[string]string, len(old)+len(domains))
	for d, a := range old {
		if a != app {
			next[d] = a
		} else if !slices.Contains(domains, d) {
			removed = append(removed, d)
		}
	}
	for _, d := range domains {
		d = strings.ToLower(d)
		if old[d] != app {
			added = append(added, d)
		}
		next[d] = app
	}
	r.domains.Store(&next)
	r.mu.Unlock()
	if len(added)+len(removed) > 0 {
		r.log.Debug("domains set", "app", app, "added", added, "removed", removed)
	}
	if r.tls == nil {
		return
	}
	for _, d := range added {
		r.tls.manage(d)
	}
	for _, d := range removed {
		r.tls.unmanage(d)
	}
}

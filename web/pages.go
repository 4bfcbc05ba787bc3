package web

import (
	"context"
	"fmt"
	"html/template"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pier/app"
)

// viewBackend is what the pages read: apps and their reports, releases,
// cron entries, sleep policies and access rules; the keys; the audit log.
type viewBackend interface {
	Apps(ctx context.Context) ([]app.App, error)
	Report(ctx context.Context, name string) (app.Report, error)
	Releases(ctx context.Context, name string) ([]app.Release, error)
	CronJobs(ctx context.Context, name string) ([]app.CronJob, error)
	SleepPolicyOf(ctx context.Context, name string) (app.SleepPolicy, error)
	AccessOf(ctx context.Context, name string) (app.AccessReport, error)
	Keys(ctx context.Context) ([]app.Key, error)
	Events(ctx context.Context, app string, limit int) ([]app.Event, error)
}

// parsePages parses each page template with the layout.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"when":     when,
		"mask":     app.MaskValue,
		"duration": duration,
		"bytes":    humanBytes,
	}
	layout := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"apps", "app", "keys", "events", "nodes", "login", "error", "confirm"} {
		t := template.Must(layout.Clone())
		pages[name] = template.Must(t.ParseFS(templateFiles, "templates/"+name+".html"))
	}
	return pages
}

// appRow is one app on the apps page.
type appRow struct {
	Name, URL, State string
	Release          int
	Deployed         time.Time
	Running, Desired int
	Memory           string
	Charts           charts
}

func (d *Dashboard) appsPage(c echo.Context) error {
	ctx := c.Request().Context()
	apps, err := d.view.Apps(ctx)
	if err != nil {
		return err
	}
	rows := make([]appRow, 0, len(apps))
	for _, a := range apps {
		r, err := d.view.Report(ctx, a.Name)
		if err != nil {
			return err
		}
		row := appRow{Name: a.Name, URL: d.url(a.Name), State: r.State().Label(), Release: a.Release,
			Deployed: r.Release.CreatedAt, Memory: d.memory(c, a.Name), Charts: d.hist.chartsOf(a.Name)}
		row.Running = r.Running()
		for _, p := range r.Processes {
			row.Desired += p.Desired
		}
		rows = append(rows, row)
	}
	return d.render(c, http.StatusOK, "apps", map[string]any{"Title": "Apps", "Apps": rows})
}

func (d *Dashboard) appPage(c echo.Context) error {
	ctx := c.Request().Context()
	name := c.Param("app")
	if err := app.ValidName(name); err != nil {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	r, err := d.view.Report(ctx, name)
	if err != nil {
		return err
	}
	rels, err := d.view.Releases(ctx, name)
	if err != nil {
		return err
	}
	jobs, err := d.view.CronJobs(ctx, name)
	if err != nil {
		return err
	}
	pol, err := d.view.SleepPolicyOf(ctx, name)
	if err != nil {
		return err
	}
	hosts, err := d.hosts(ctx, name)
	if err != nil {
		return err
	}
	domains := app.HostCertificates(ctx, d.cfg.Certs, hosts)
	access, err := d.view.AccessOf(ctx, name)
	if err != nil {
		return err
	}
	config := r.App.Config
	limits := app.LimitsFor(r.App, r.Release)
	memLimit := "default"
	if limits.MemoryMiB > 0 {
		memLimit = humanBytes(int64(limits.MemoryMiB) << 20)
	} else if d.cfg.DefaultMemory > 0 {
		memLimit = humanBytes(d.cfg.DefaultMemory) + " (the default)"
	}
	return d.render(c, http.StatusOK, "app", map[string]any{
		"Title": name, "App": r.App, "Report": r, "URL": d.url(name), "State": r.State().Label(),
		"Memory": d.memory(c, name), "Releases": rels, "ConfigKeys": slices.Sorted(maps.Keys(config)),
		"Config": config, "Cron": jobs, "Sleep": pol, "Domains": domains, "Access": access,
		"GitRemote": d.gitRemote(c, name), "Limits": limits, "MemoryLimit": memLimit,
		"Charts": d.hist.chartsOf(name), "HasCharts": d.hist != nil,
	})
}

func (d *Dashboard) keysPage(c echo.Context) error {
	keys, err := d.view.Keys(c.Request().Context())
	if err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "keys", map[string]any{"Title": "SSH keys", "Keys": keys})
}

func (d *Dashboard) eventsPage(c echo.Context) error {
	name := c.QueryParam("app")
	if name != "" {
		if err := app.ValidName(name); err != nil {
			return echo.NewHTTPError(http.StatusNotFound, err.Error())
		}
	}
	page := 1
	if p := c.QueryParam("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxEventPages {
			return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("page: want a number from 1 to %d", maxEventPages))
		}
		page = n
	}
	evs, err := d.view.Events(c.Request().Context(), name, page*eventsPerPage+1)
	if err != nil {
		return err
	}
	older := len(evs) > page*eventsPerPage
	evs = evs[min((page-1)*eventsPerPage, len(evs)):min(page*eventsPerPage, len(evs))]
	link := func(p int) string {
		q := url.Values{"page": {strconv.Itoa(p)}}
		if name != "" {
			q.Set("app", name)
		}
		return "/events?" + q.Encode()
	}
	data := map[string]any{"Title": "Events", "Events": evs, "App": name, "Page": page}
	if older {
		data["Older"] = link(page + 1)
	}
	if page > 1 {
		data["Newer"] = link(page - 1)
	}
	return d.render(c, http.StatusOK, "events", data)
}

// gitRemote is the URL to push app to, on the host the dashboard was
// reached at; "" without an SSH port.
func (d *Dashboard) gitRemote(c echo.Context, name string) string {
	if d.cfg.SSHPort == 0 {
		return ""
	}
	host := c.Request().Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || strings.ContainsAny(host, "/@ ") {
		return ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("ssh://pier@%s:%d/%s", host, d.cfg.SSHPort, name)
}

// The events page shows eventsPerPage events a page, as far back as
// maxEventPages pages.
const (
	eventsPerPage = 50
	maxEventPages = 200
)

// hosts lists the hosts app answers at.
func (d *Dashboard) hosts(ctx context.Context, name string) ([]string, error) {
	if dl, ok := d.view.(domainLister); ok {
		return dl.Domains(ctx, name)
	}
	if u, err := url.Parse(d.url(name)); err == nil && u.Hostname() != "" {
		return []string{u.Hostname()}, nil
	}
	return nil, nil
}

func (d *Dashboard) url(name string) string {
	if d.cfg.URL == nil {
		return ""
	}
	return d.cfg.URL(name)
}

func (d *Dashboard) memory(c echo.Context, name string) string {
	if d.cfg.Memory == nil {
		return "-"
	}
	n, ok := d.cfg.Memory(c.Request().Context(), name)
	if !ok {
		return "-"
	}
	return humanBytes(n)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func duration(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func itoa(n int) string { return strconv.Itoa(n) }

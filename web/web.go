// Package web is pier's dashboard: server-rendered pages (html/template,
// embedded with the CSS and one small script) over echo, for people who
// would rather look than type. It holds no business logic: every page reads
// and every action changes through Platform, which *app.Service implements,
// and every action is written to the audit log as the admin commands are.
//
// The dashboard answers at pier.<domain> through the router and on the
// admin listener. Only the admin may log in: with the admin password
// (admin:password) or a one-time link (admin:login). Sessions live in
// memory; a restart of the daemon logs everybody out.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"pier/app"
	"pier/ratelimit"
)

// Platform is all the dashboard needs of pier's domain: the union of what
// its pages read (viewBackend), its actions change (changeBackend), the
// log stream follows (logsBackend) and logging in checks (authBackend),
// each declared next to the handlers that use it. *app.Service implements
// it.
type Platform interface {
	viewBackend
	changeBackend
	logsBackend
	authBackend
}

// domainLister is a viewBackend with custom domains: it lists the hosts an app
// answers at. Without it an app's page shows only the app's own host.
type domainLister interface {
	Domains(ctx context.Context, name string) ([]string, error)
}

// Config configures a Dashboard. Platform and Log are required.
type Config struct {
	Platform Platform
	Log      *slog.Logger
	// URL returns an app's public URL; nil leaves URLs out.
	URL func(app string) string
	// Certs reports hosts' TLS certificates; nil means HTTPS is disabled.
	Certs Certs
	// Memory returns the memory an app's processes use, in bytes, and
	// whether it is known; nil shows "-" for every app.
	Memory func(ctx context.Context, app string) (int64, bool)
	// Version is shown in the footer.
	Version string
	// Traffic reports an app's request counts (the router's); with it,
	// the app list and app page chart the last hour. SampleEvery is how
	// often they are sampled (default a minute).
	Traffic     func(app string) Traffic
	SampleEvery time.Duration
	// SSHPort is where pushes go: the app page shows its git remote on
	// it; 0 shows none.
	SSHPort int
	// DefaultMemory is the memory limit of apps that set none, in bytes.
	DefaultMemory int64
	// SessionTTL is how long a login lasts. Default 12h.
	SessionTTL time.Duration
	// Tokens are the login links admin:login hands out; nil: the
	// dashboard has its own, and only links it issued work.
	Tokens *LoginTokens
	// Cluster is the cluster of machines this one may be in, shown on
	// the nodes page; nil shows it as a machine in no cluster.
	Cluster Cluster
}

// Certs reports what pier knows of a host's certificate; the router
// implements it.
type Certs interface {
	Certificate(ctx context.Context, host string) app.CertStatus
}

// who is the audit log's name for changes made on the dashboard.
const who = "dashboard:admin"

// Dashboard is the dashboard's http.Handler. It is safe for concurrent use.
type Dashboard struct {
	e        *echo.Echo
	view     viewBackend
	change   changeBackend
	logs     logsBackend
	auth     authBackend
	log      *slog.Logger
	cfg      Config
	pages    func() map[string]*template.Template // parsed on first use
	sessions *sessions
	limiter  *ratelimit.Attempts
	tokens   *LoginTokens
	hist     *history // nil without Config.Traffic
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// New returns the dashboard. It panics if cfg lacks Platform or Log. The
// embedded templates are parsed when the first page is rendered (a pier
// nobody looks at does not pay for them); TestTemplates checks they parse.
func New(cfg Config) *Dashboard {
	if cfg.Platform == nil || cfg.Log == nil {
		panic("web: Config.Platform and Config.Log are required")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	d := &Dashboard{
		e:        echo.New(),
		view:     cfg.Platform,
		change:   cfg.Platform,
		logs:     cfg.Platform,
		auth:     cfg.Platform,
		log:      cfg.Log.With("component", "web"),
		cfg:      cfg,
		pages:    sync.OnceValue(parsePages),
		sessions: newSessions(cfg.SessionTTL),
		limiter:  ratelimit.NewAttempts(maxFailures, failureWindow),
		tokens:   cfg.Tokens,
	}
	if d.tokens == nil {
		d.tokens = &LoginTokens{}
	}
	if cfg.Traffic != nil {
		d.hist = &history{traffic: cfg.Traffic, memory: d.memoryOf, apps: d.appNames, every: cfg.SampleEvery}
		if d.hist.every == 0 {
			d.hist.every = time.Minute
		}
	}
	d.routes()
	return d
}

// Run samples what the charts show until ctx ends; without
// Config.Traffic it returns at once.
func (d *Dashboard) Run(ctx context.Context) {
	if d.hist != nil {
		d.hist.run(ctx)
	}
}

func (d *Dashboard) memoryOf(ctx context.Context, name string) (int64, bool) {
	if d.cfg.Memory == nil {
		return 0, false
	}
	return d.cfg.Memory(ctx, name)
}

func (d *Dashboard) appNames(ctx context.Context) ([]string, error) {
	apps, err := d.view.Apps(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = a.Name
	}
	return names, nil
}

// ServeHTTP serves the dashboard.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.e.ServeHTTP(w, r) }

func (d *Dashboard) routes() {
	e := d.e
	e.HTTPErrorHandler = d.handleError
	static, _ := fs.Sub(staticFiles, "static")
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static)))))

	e.Use(d.secureHeaders, d.withSession)
	e.GET("/login", d.loginPage)
	e.POST("/login", d.login, d.csrf)
	e.POST("/login/link", d.loginLink, d.csrf)

	g := e.Group("", d.requireAdmin, d.csrf)
	g.POST("/logout", d.logout)
	g.GET("/", d.appsPage)
	g.GET("/keys", d.keysPage)
	g.GET("/events", d.eventsPage)
	g.GET("/nodes", d.nodesPage)
	g.GET("/apps/:app", d.appPage)
	g.GET("/apps/:app/logs", d.logStream)
	g.POST("/apps/:app/restart", d.restart)
	g.POST("/apps/:app/scale", d.scale)
	g.POST("/apps/:app/rollback", d.rollback)
	g.POST("/apps/:app/config", d.configSet)
	g.POST("/apps/:app/config/unset", d.configUnset)
	g.POST("/apps/:app/cron/run", d.cronRun)
	g.POST("/apps/:app/sleep", d.sleepNow)
	g.POST("/apps/:app/stop", d.stop)
	g.POST("/apps/:app/start", d.start)
	g.POST("/apps/:app/destroy", d.destroy)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	v := "public, max-age=" + itoa(int(d.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		h.ServeHTTP(w, r)
	})
}

// secureHeaders keeps the dashboard out of frames and other sites'
// scripts.
func (d *Dashboard) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// render writes page with data, in the layout, with status code.
func (d *Dashboard) render(c echo.Context, code int, page string, data map[string]any) error {
	t, ok := d.pages()[page]
	if !ok {
		return errors.New("web: no page " + page)
	}
	if data == nil {
		data = map[string]any{}
	}
	s := sessionOf(c)
	if s != nil {
		data["CSRF"] = s.csrf
		data["Admin"] = s.admin
		if msg, bad := s.takeFlash(); msg != "" {
			data["Flash"], data["FlashBad"] = msg, bad
		}
	}
	data["Version"] = d.cfg.Version
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return err
	}
	return c.HTMLBlob(code, b.Bytes())
}

// handleError is the one place errors become pages: a page that does not
// exist is 404, an app that does not exist is 404 with the domain's
// message; anything else unexpected is logged and shown as a 500.
func (d *Dashboard) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "Something went wrong: "+err.Error()
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(code)
		}
	case errors.Is(err, app.ErrNotFound):
		code, msg = http.StatusNotFound, err.Error()
	default:
		d.log.Error("dashboard", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	if err := d.render(c, code, "error", map[string]any{"Title": http.StatusText(code), "Code": code, "Message": msg}); err != nil {
		d.log.Error("render error page", "err", err)
	}
}

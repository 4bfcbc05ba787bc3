package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"pier/app"
)

// appsBackend is what the apps:* commands use: the list of apps, and one
// app's creation, report, rename and removal.
type appsBackend interface {
	Apps(ctx context.Context) ([]app.App, error)
	CreateApp(ctx context.Context, name string) (app.App, error)
	App(ctx context.Context, name string) (app.App, error)
	Report(ctx context.Context, name string) (app.Report, error)
	SleepPolicyOf(ctx context.Context, name string) (app.SleepPolicy, error)
	StateOf(a app.App) app.AppState
	Rename(ctx context.Context, from, to string, out io.Writer) error
	Destroy(ctx context.Context, name string, out io.Writer) error
}

// appsCommands are apps:list, create, destroy, rename and report.
type appsCommands struct {
	p   appsBackend
	url func(app string) string // Info.appURL
}

// appsList prints every app with its current release and URL. With
// --format json it prints an array of {"name","release","state","url"}
// objects, where release is the version number and 0 means never deployed,
// and state is app.AppState.Word: running, static, frozen, stopped or
// not-deployed.
func (h appsCommands) appsList(ctx context.Context, c Call, args []string) error {
	asJSON, err := listFormat(args)
	if err != nil {
		return err
	}
	apps, err := h.p.Apps(ctx)
	if err != nil {
		return fmt.Errorf("list apps: %w", err)
	}
	if asJSON {
		type row struct {
			Name    string `json:"name"`
			Release int    `json:"release"`
			State   string `json:"state"`
			URL     string `json:"url"`
		}
		rows := make([]row, 0, len(apps))
		for _, a := range apps {
			rows = append(rows, row{a.Name, a.Release, h.p.StateOf(a).Word(), h.url(a.Name)})
		}
		return writeJSON(c.Stdout, rows)
	}
	if len(apps) == 0 {
		fmt.Fprintln(c.Stdout, "no apps yet: git push one, or run apps:create NAME")
		return nil
	}
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "NAME\tRELEASE\tSTATE\tURL")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, releaseLabel(a), h.p.StateOf(a).Word(), orDash(h.url(a.Name)))
	}
	return tw.Flush()
}

func (h appsCommands) appsCreate(ctx context.Context, c Call, args []string) error {
	if len(args) != 1 {
		return badUsage("")
	}
	name := args[0]
	if err := app.ValidName(name); err != nil {
		return badUsage("%v", err)
	}
	if _, err := h.p.CreateApp(ctx, name); err != nil {
		return about("app", name, err)
	}
	fmt.Fprintf(c.Stdout, "created app %s\n", name)
	if u := h.url(name); u != "" {
		fmt.Fprintf(c.Stdout, "it will answer at %s once deployed\n", u)
	}
	return nil
}

func releaseLabel(a app.App) string {
	if a.Release == 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", a.Release)
}

// appsDestroy removes an app once the caller typed its name again (on
// stdin), or with --force.
func (h appsCommands) appsDestroy(ctx context.Context, c Call, args []string) error {
	force := false
	var pos []string
	for _, a := range args {
		switch {
		case a == "--force":
			force = true
		case strings.HasPrefix(a, "-"):
			return badUsage("unknown flag %.40q", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 1 {
		return badUsage("")
	}
	name := pos[0]
	if err := app.ValidName(name); err != nil {
		return badUsage("%v", err)
	}
	if _, err := h.p.App(ctx, name); err != nil {
		return err
	}
	if !force {
		fmt.Fprintf(c.Stderr, " !     This removes %s: its processes, releases, config, cron jobs and history.\n", name)
		fmt.Fprintf(c.Stderr, " !     Type the app name to confirm (or run apps:destroy %s --force): ", name)
		line, _ := bufio.NewReader(io.LimitReader(c.Stdin, 256)).ReadString('\n')
		if strings.TrimSpace(line) != name {
			fmt.Fprintln(c.Stderr)
			return fmt.Errorf("confirmation did not match %q: nothing was removed", name)
		}
	}
	return h.p.Destroy(ctx, name, c.Stdout)
}

// appsRename renames an app (Dokku's apps:rename OLD NEW).
func (h appsCommands) appsRename(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 {
		return badUsage("")
	}
	for _, n := range args {
		if err := app.ValidName(n); err != nil {
			return badUsage("%v", err)
		}
	}
	from, to := args[0], args[1]
	if from == to {
		return badUsage("the new name is the app's name already")
	}
	if to == app.ReservedName {
		return badUsage("the app name %q is reserved for the dashboard", to)
	}
	if err := h.p.Rename(ctx, from, to, c.Stdout); err != nil {
		return err
	}
	if u := h.url(to); u != "" {
		fmt.Fprintf(c.Stdout, "-----> %s answers at %s\n", to, u)
	}
	return nil
}

// appsReport describes one app.
func (h appsCommands) appsReport(ctx context.Context, c Call, args []string) error {
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	r, err := h.p.Report(ctx, name)
	if err != nil {
		return err
	}
	pol, err := h.p.SleepPolicyOf(ctx, name)
	if err != nil {
		return err
	}
	a := r.App
	running := r.Running()
	type report struct {
		Name       string         `json:"name"`
		URL        string         `json:"url"`
		State      string         `json:"state"`
		Release    int            `json:"release"`
		Deployed   *time.Time     `json:"deployed,omitempty"`
		DeployedBy string         `json:"deployed_by,omitempty"`
		Stack      string         `json:"stack,omitempty"`
		Formation  map[string]int `json:"formation"`
		Running    int            `json:"running_instances"`
		ConfigKeys []string       `json:"config_keys"`
		Volumes    []app.Volume   `json:"volumes"`
		Limits     app.Limits     `json:"limits"`
		SleepAfter string         `json:"sleep_after"`
		Created    time.Time      `json:"created"`
		Placement  []string       `json:"placement"`
	}
	rep := report{Name: name, URL: h.url(name), State: h.p.StateOf(a).Word(), Release: a.Release, Formation: a.Formation,
		Running: running, ConfigKeys: slices.Sorted(maps.Keys(a.Config)), Volumes: a.Volumes, Limits: a.Limits,
		SleepAfter: pol.After.String(), Created: a.CreatedAt, Placement: append([]string{}, a.Placement...)}
	if pol.Never {
		rep.SleepAfter = "never"
	}
	if rep.Volumes == nil {
		rep.Volumes = []app.Volume{}
	}
	if a.Release > 0 {
		at := r.Release.CreatedAt
		rep.Deployed, rep.DeployedBy, rep.Stack = &at, r.Release.CreatedBy, r.Release.Stack
	}
	if asJSON {
		return writeJSON(c.Stdout, rep)
	}
	tw := columns(c.Stdout)
	fmt.Fprintf(c.Stdout, "=== %s\n", name)
	fmt.Fprintf(tw, "URL:\t%s\n", orDash(rep.URL))
	fmt.Fprintf(tw, "State:\t%s\n", h.p.StateOf(a).Phrase())
	if a.Release > 0 {
		fmt.Fprintf(tw, "Release:\tv%d, %s by %s (%s)\n", a.Release, rep.Deployed.Local().Format(time.DateTime), rep.DeployedBy, rep.Stack)
	} else {
		fmt.Fprintf(tw, "Release:\tnone yet\n")
	}
	var f []string
	for _, k := range slices.Sorted(maps.Keys(a.Formation)) {
		f = append(f, fmt.Sprintf("%s=%d", k, a.Formation[k]))
	}
	fmt.Fprintf(tw, "Processes:\t%s (%d running)\n", orDash(strings.Join(f, " ")), running)
	if len(a.Placement) > 0 {
		fmt.Fprintf(tw, "Runs on:\t%s\n", strings.Join(a.Placement, ", "))
	}
	fmt.Fprintf(tw, "Config vars:\t%s\n", orDash(strings.Join(rep.ConfigKeys, ", ")))
	var vols []string
	for _, v := range a.Volumes {
		vols = append(vols, v.Name+":"+v.Path)
	}
	fmt.Fprintf(tw, "Volumes:\t%s\n", orDash(strings.Join(vols, ", ")))
	fmt.Fprintf(tw, "Limits:\t%s\n", describeLimits(a.Limits))
	fmt.Fprintf(tw, "Sleeps after:\t%s\n", rep.SleepAfter)
	fmt.Fprintf(tw, "Created:\t%s\n", a.CreatedAt.Local().Format(time.DateTime))
	return tw.Flush()
}

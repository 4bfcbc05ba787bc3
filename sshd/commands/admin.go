package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"pier/app"
)

// appsDestroy removes an app once the caller typed its name again (on
// stdin), or with --force.
func (t *Table) appsDestroy(ctx context.Context, c Call, args []string) error {
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
	if _, err := t.p.App(ctx, name); err != nil {
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
	return t.p.Destroy(ctx, name, c.Stdout)
}

// appsRename renames an app (Dokku's apps:rename OLD NEW).
func (t *Table) appsRename(ctx context.Context, c Call, args []string) error {
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
	if err := t.p.Rename(ctx, from, to, c.Stdout); err != nil {
		return err
	}
	if u := t.url(to); u != "" {
		fmt.Fprintf(c.Stdout, "-----> %s answers at %s\n", to, u)
	}
	return nil
}

// appsReport describes one app.
func (t *Table) appsReport(ctx context.Context, c Call, args []string) error {
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	r, err := t.p.Report(ctx, name)
	if err != nil {
		return err
	}
	pol, err := t.p.SleepPolicyOf(ctx, name)
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
	}
	rep := report{Name: name, URL: t.url(name), State: a.State().Word(), Release: a.Release, Formation: a.Formation,
		Running: running, ConfigKeys: slices.Sorted(maps.Keys(a.Config)), Volumes: a.Volumes, Limits: a.Limits,
		SleepAfter: pol.After.String(), Created: a.CreatedAt}
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
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(c.Stdout, "=== %s\n", name)
	fmt.Fprintf(tw, "URL:\t%s\n", orDash(rep.URL))
	fmt.Fprintf(tw, "State:\t%s\n", a.State().Phrase())
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

func describeLimits(l app.Limits) string {
	var parts []string
	if l.MemoryMiB > 0 {
		parts = append(parts, fmt.Sprintf("memory %d MiB", l.MemoryMiB))
	}
	if l.CPU > 0 {
		parts = append(parts, fmt.Sprintf("cpu %g", l.CPU))
	}
	if len(parts) == 0 {
		return "app.json's or pier's defaults"
	}
	return strings.Join(parts, ", ")
}

// resourceLimit sets (or with no flags, shows) an app's memory and CPU
// limits: "resource:limit APP [--memory 512M] [--cpu 0.5]"; 0 clears one.
func (t *Table) resourceLimit(ctx context.Context, c Call, args []string) error {
	pos, flags, err := splitFlags(args, "--memory", "--cpu")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badUsage("")
	}
	name := pos[0]
	if err := app.ValidName(name); err != nil {
		return badUsage("%v", err)
	}
	a, err := t.p.App(ctx, name)
	if err != nil {
		return err
	}
	l := a.Limits
	if v, ok := flags["--memory"]; ok {
		if l.MemoryMiB, err = parseMiB(v); err != nil {
			return badUsage("--memory: %v", err)
		}
	}
	if v, ok := flags["--cpu"]; ok {
		if l.CPU, err = strconv.ParseFloat(v, 64); err != nil || l.CPU < 0 || l.CPU > app.MaxCPU {
			return badUsage("--cpu: want a number of cores from 0 to %d, e.g. 0.5", app.MaxCPU)
		}
	}
	if len(flags) > 0 {
		if err := t.p.SetLimits(ctx, name, l); err != nil {
			return err
		}
		if a.Release > 0 && !a.Stopped {
			if err := t.p.Restart(ctx, name, c.Stdout); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(c.Stdout, "%s: %s\n", name, describeLimits(l))
	return nil
}

// parseMiB reads --memory: a size app.ParseMemory reads, whole MiB (a
// fraction is dropped), 0 to clear.
func parseMiB(s string) (int, error) {
	f, err := app.ParseMemory(s)
	if err != nil {
		return 0, err
	}
	mib := int(min(f, app.MaxMemoryMiB+1))
	if mib != 0 && (mib < app.MinMemoryMiB || mib > app.MaxMemoryMiB) {
		return 0, fmt.Errorf("%s is out of range: want %dM to %dG, or 0 to clear", s, app.MinMemoryMiB, app.MaxMemoryMiB>>10)
	}
	return mib, nil
}

// events lists the audit log: "events [APP] [-n N] [--format json]".
func (t *Table) events(ctx context.Context, c Call, args []string) error {
	pos, flags, err := splitFlags(args, "-n", "--format")
	if err != nil {
		return err
	}
	asJSON, err := formatFlag(flags)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return badUsage("")
	}
	name := ""
	if len(pos) == 1 {
		name = pos[0]
		if err := app.ValidName(name); err != nil {
			return badUsage("%v", err)
		}
	}
	if c.User.App != "" && name != c.User.App {
		return fmt.Errorf("this key may only read the events of %s", c.User.App)
	}
	n := 50
	if v, ok := flags["-n"]; ok {
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 10000 {
			return badUsage("-n: want a number from 1 to 10000")
		}
	}
	evs, err := t.p.Events(ctx, name, n)
	if err != nil {
		return err
	}
	if asJSON {
		if evs == nil {
			evs = []app.Event{}
		}
		return writeJSON(c.Stdout, evs)
	}
	if len(evs) == 0 {
		fmt.Fprintln(c.Stdout, "no events yet")
		return nil
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tWHO\tAPP\tWHAT")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\n", e.At.Local().Format(time.DateTime), e.Who, orDash(e.App), e.Action, e.Detail)
	}
	return tw.Flush()
}

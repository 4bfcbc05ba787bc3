package commands

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"pier/app"
)

// psBackend is what the ps:* commands use: an app's processes, reported,
// scaled, restarted, stopped and started.
type psBackend interface {
	Apps(ctx context.Context) ([]app.App, error)
	Report(ctx context.Context, name string) (app.Report, error)
	Scale(ctx context.Context, name string, counts map[string]int) error
	Restart(ctx context.Context, name string, out io.Writer) error
	RestartType(ctx context.Context, name, proc string, out io.Writer) error
	Stop(ctx context.Context, name string) error
	Start(ctx context.Context, name string) error
}

// psCommands are ps:scale, restart, stop, start and report.
type psCommands struct{ p psBackend }

func (h psCommands) psScale(ctx context.Context, c Call, args []string) error {
	if len(args) < 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	counts := map[string]int{}
	for _, kv := range args[1:] {
		proc, n, ok := strings.Cut(kv, "=")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || proc == "" {
			return badUsage("%.40q: want TYPE=COUNT, e.g. web=2", kv)
		}
		if count < 0 || count > app.MaxScale {
			return badUsage("%s=%d: the count must be between 0 and %d", proc, count, app.MaxScale)
		}
		counts[proc] = count
	}
	if err := h.p.Scale(ctx, args[0], counts); err != nil {
		return err
	}
	return h.psReportText(ctx, c, args[0])
}

func (h psCommands) psRestart(ctx context.Context, c Call, args []string) error {
	if len(args) == 2 {
		if err := app.ValidName(args[0]); err != nil {
			return badUsage("%v", err)
		}
		if err := h.p.RestartType(ctx, args[0], args[1], c.Stdout); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "-----> Restarted the %s processes of %s\n", args[1], args[0])
		return nil
	}
	return oneApp(args, func(name string) error {
		if err := h.p.Restart(ctx, name, c.Stdout); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "-----> Restarted %s\n", name)
		return nil
	})
}

func (h psCommands) psStop(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		if err := h.p.Stop(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "-----> Stopped %s (ps:start %s starts it again)\n", name, name)
		return nil
	})
}

func (h psCommands) psStart(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		if err := h.p.Start(ctx, name); err != nil {
			return err
		}
		return h.psReportText(ctx, c, name)
	})
}

func (h psCommands) psReport(ctx context.Context, c Call, args []string) error {
	if len(args) == 0 || len(args) == 2 && args[0] == "--format" {
		return h.psReportAll(ctx, c, args)
	}
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	if !asJSON {
		return h.psReportText(ctx, c, name)
	}
	r, err := h.p.Report(ctx, name)
	if err != nil {
		return err
	}
	return writeJSON(c.Stdout, psJSON(r))
}

// psReportAll is ps:report of every app, as Dokku's ps:report without an
// app: each app's report in turn, or a JSON array of them.
func (h psCommands) psReportAll(ctx context.Context, c Call, args []string) error {
	asJSON := false
	if len(args) == 2 {
		var err error
		if asJSON, err = formatFlag(map[string]string{"--format": args[1]}); err != nil {
			return err
		}
	}
	apps, err := h.p.Apps(ctx)
	if err != nil {
		return err
	}
	if len(apps) == 0 && !asJSON {
		fmt.Fprintln(c.Stdout, "no apps yet: git push one, or apps:create NAME")
		return nil
	}
	var all []any
	for i, a := range apps {
		if !asJSON {
			if i > 0 {
				fmt.Fprintln(c.Stdout)
			}
			if err := h.psReportText(ctx, c, a.Name); err != nil {
				return err
			}
			continue
		}
		r, err := h.p.Report(ctx, a.Name)
		if err != nil {
			return err
		}
		all = append(all, psJSON(r))
	}
	if asJSON {
		if all == nil {
			all = []any{}
		}
		return writeJSON(c.Stdout, all)
	}
	return nil
}

// psJSON is one app's ps:report --format json.
func psJSON(r app.Report) any {
	type inst struct {
		ID      string `json:"id"`
		Addr    string `json:"addr,omitempty"`
		Running bool   `json:"running"`
	}
	type proc struct {
		Type        string     `json:"type"`
		Command     string     `json:"command"`
		Desired     int        `json:"desired"`
		Running     int        `json:"running"`
		Instances   []inst     `json:"instances"`
		Crashes     int        `json:"crashes"`
		NextRestart *time.Time `json:"next_restart,omitempty"`
	}
	out := struct {
		App       string   `json:"app"`
		Release   int      `json:"release"`
		Stopped   bool     `json:"stopped"`
		State     string   `json:"state"`
		Placement []string `json:"placement"`
		Processes []proc   `json:"processes"`
	}{App: r.App.Name, Release: r.App.Release, Stopped: r.App.Stopped, State: r.State().Word(),
		Placement: append([]string{}, r.App.Placement...), Processes: []proc{}}
	for _, p := range r.Processes {
		jp := proc{Type: p.Type, Command: p.Command, Desired: p.Desired, Running: p.Running(), Instances: []inst{}, Crashes: p.Crashes}
		for _, in := range p.Instances {
			jp.Instances = append(jp.Instances, inst{in.ID, in.Addr, in.Running})
		}
		if p.Crashes > 0 {
			next := p.NextRestart
			jp.NextRestart = &next
		}
		out.Processes = append(out.Processes, jp)
	}
	return out
}

func (h psCommands) psReportText(ctx context.Context, c Call, name string) error {
	r, err := h.p.Report(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "=== %s: %s", name, r.State().Phrase())
	if r.App.Release > 0 {
		fmt.Fprintf(c.Stdout, ", release v%d", r.App.Release)
	}
	fmt.Fprintln(c.Stdout)
	switch {
	case len(r.Elsewhere) > 0:
		fmt.Fprintf(c.Stdout, "Runs on %s, not on this machine: ps:report there shows its instances\n", strings.Join(r.Elsewhere, ", "))
	case len(r.App.Placement) > 1:
		fmt.Fprintf(c.Stdout, "Runs on %s: the counts are this machine's share\n", strings.Join(r.App.Placement, ", "))
	}
	tw := columns(c.Stdout)
	if r.Release.Static != "" {
		fmt.Fprintf(tw, "web:\tstatic site\t%s, served by the router (no container)\n", r.Release.Static)
	}
	for _, p := range r.Processes {
		fmt.Fprintf(tw, "%s:\t%d/%d running\t%s\n", p.Type, p.Running(), p.Desired, p.Command)
		for _, in := range p.Instances {
			st := "running"
			if !in.Running {
				st = "exited"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", in.ID, st, in.Addr)
		}
		if p.Crashes > 0 {
			wait := time.Until(p.NextRestart).Round(time.Second)
			ago := time.Since(p.LastCrash).Round(time.Second)
			if !p.Looping() {
				again := "running again"
				if p.Running() < p.Desired {
					again = fmt.Sprintf("next restart in %s", max(wait, 0))
				}
				fmt.Fprintf(tw, "  CRASHED:\tonce, %s ago; %s\n", ago, again)
			} else {
				fmt.Fprintf(tw, "  CRASH LOOP:\tcrashed %d times, last %s ago; next restart in %s\n",
					p.Crashes, ago, max(wait, 0))
			}
			for _, l := range p.LastOutput {
				fmt.Fprintf(tw, "  | %s\n", l)
			}
		}
	}
	return tw.Flush()
}

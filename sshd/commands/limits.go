package commands

// resource:limit: an app's memory and CPU limits.

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"pier/app"
)

// limitsBackend is what resource:limit uses: an app's limits, and a
// restart so that they apply.
type limitsBackend interface {
	App(ctx context.Context, name string) (app.App, error)
	SetLimits(ctx context.Context, name string, l app.Limits) error
	Restart(ctx context.Context, name string, out io.Writer) error
}

// limitsCommands is resource:limit.
type limitsCommands struct{ p limitsBackend }

// resourceLimit sets (or with no flags, shows) an app's memory and CPU
// limits: "resource:limit APP [--memory 512M] [--cpu 0.5]"; 0 clears one.
func (h limitsCommands) resourceLimit(ctx context.Context, c Call, args []string) error {
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
	a, err := h.p.App(ctx, name)
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
		if l.CPU, err = strconv.ParseFloat(v, 64); err != nil || !(l.CPU >= 0 && l.CPU <= app.MaxCPU) {
			return badUsage("--cpu: want a number of cores from 0 to %d, e.g. 0.5", app.MaxCPU)
		}
	}
	if len(flags) > 0 {
		if err := h.p.SetLimits(ctx, name, l); err != nil {
			return err
		}
		if a.Release > 0 && !a.Stopped {
			if err := h.p.Restart(ctx, name, c.Stdout); err != nil {
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

// describeLimits says l for people: "memory 512 MiB, cpu 0.5".
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

package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"pier/app"
)

// checksBackend is what the checks:* commands use: how deploys check an
// app's new processes.
type checksBackend interface {
	App(ctx context.Context, name string) (app.App, error)
	SetCheckMode(ctx context.Context, name string, types []string, mode string) error
}

// checksCommands are checks:report, enable, skip and disable (Dokku's).
type checksCommands struct{ p checksBackend }

// checksSet returns the command that sets mode for "APP [TYPES]", TYPES
// comma-separated as Dokku takes them.
func (h checksCommands) checksSet(mode string) func(context.Context, Call, []string) error {
	return func(ctx context.Context, c Call, args []string) error {
		if len(args) < 1 || len(args) > 2 {
			return badUsage("")
		}
		if err := app.ValidName(args[0]); err != nil {
			return badUsage("%v", err)
		}
		var types []string
		if len(args) == 2 {
			for _, t := range strings.Split(args[1], ",") {
				if t = strings.TrimSpace(t); t != "" && t != "_all_" {
					types = append(types, t)
				}
			}
		}
		if err := h.p.SetCheckMode(ctx, args[0], types, mode); err != nil {
			return err
		}
		what := "processes"
		if len(types) > 0 {
			what = strings.Join(types, ", ") + " processes"
		}
		switch mode {
		case app.CheckSkip:
			fmt.Fprintf(c.Stdout, "-----> Deploys of %s route to new %s at once, without waiting for their checks\n", args[0], what)
		case app.CheckDisabled:
			fmt.Fprintf(c.Stdout, "-----> Deploys of %s stop the old %s before starting new ones, unchecked (a moment of downtime)\n", args[0], what)
		default:
			fmt.Fprintf(c.Stdout, "-----> Deploys of %s check new %s before they take traffic\n", args[0], what)
		}
		return nil
	}
}

func (h checksCommands) checksReport(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		a, err := h.p.App(ctx, name)
		if err != nil {
			return err
		}
		word := func(m string) string {
			switch m {
			case app.CheckSkip:
				return "skipped"
			case app.CheckDisabled:
				return "disabled"
			}
			return "enabled"
		}
		fmt.Fprintf(c.Stdout, "=== %s checks\n", name)
		fmt.Fprintf(c.Stdout, "every type: %s\n", word(a.Checks["*"]))
		for _, t := range slices.Sorted(maps.Keys(a.Checks)) {
			if t != "*" {
				fmt.Fprintf(c.Stdout, "%s: %s\n", t, word(a.Checks[t]))
			}
		}
		return nil
	})
}

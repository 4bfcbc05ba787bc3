package commands

import (
	"context"
	"fmt"
	"strings"

	"pier/app"
)

// sleepBackend is what the sleep:* commands use: an app's state and sleep
// policy, and putting it to sleep.
type sleepBackend interface {
	App(ctx context.Context, name string) (app.App, error)
	SleepPolicyOf(ctx context.Context, name string) (app.SleepPolicy, error)
	SetSleepPolicy(ctx context.Context, name string, p *app.SleepPolicy) error
	SleepNow(ctx context.Context, name string, deep bool) error
}

// sleepCommands are sleep:set, disable, reset, now and report.
type sleepCommands struct{ p sleepBackend }

// sleepSet parses "APP after=5m [stop_after=1h]" or "APP never".
func (h sleepCommands) sleepSet(ctx context.Context, c Call, args []string) error {
	if len(args) < 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	var p app.SleepPolicy
	for _, kv := range args[1:] {
		if kv == "never" {
			p.Never = true
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k != "after" && k != "stop_after" {
			return badUsage("%.40q: want after=DURATION, stop_after=DURATION or never", kv)
		}
		d, err := app.ParseSleepDuration(v)
		if err != nil {
			return badUsage("%s: %v", k, err)
		}
		if k == "after" {
			p.After = d
		} else {
			p.StopAfter = d
		}
	}
	if p.Never && (p.After != 0 || p.StopAfter != 0) {
		return badUsage("never cannot be combined with durations")
	}
	if err := h.p.SetSleepPolicy(ctx, args[0], &p); err != nil {
		return err
	}
	return h.sleepShow(ctx, c, args[0])
}

func (h sleepCommands) sleepDisable(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		if err := h.p.SetSleepPolicy(ctx, name, &app.SleepPolicy{Never: true}); err != nil {
			return err
		}
		return h.sleepShow(ctx, c, name)
	})
}

func (h sleepCommands) sleepReset(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		if err := h.p.SetSleepPolicy(ctx, name, nil); err != nil {
			return err
		}
		return h.sleepShow(ctx, c, name)
	})
}

func (h sleepCommands) sleepNow(ctx context.Context, c Call, args []string) error {
	deep := false
	var rest []string
	for _, a := range args {
		if a == "--stop" {
			deep = true
			continue
		}
		rest = append(rest, a)
	}
	return oneApp(rest, func(name string) error {
		if err := h.p.SleepNow(ctx, name, deep); err != nil {
			return err
		}
		state := "frozen"
		if deep {
			state = "stopped"
		}
		fmt.Fprintf(c.Stdout, "-----> %s is %s; the next request wakes it\n", name, state)
		return nil
	})
}

func (h sleepCommands) sleepReport(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error { return h.sleepShow(ctx, c, name) })
}

func (h sleepCommands) sleepShow(ctx context.Context, c Call, name string) error {
	a, err := h.p.App(ctx, name)
	if err != nil {
		return err
	}
	p, err := h.p.SleepPolicyOf(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "=== %s: %s\n", name, a.State().Phrase())
	if a.Static {
		fmt.Fprintln(c.Stdout, "(the policy below applies to a release that runs a web process)")
	}
	if p.Never {
		fmt.Fprintln(c.Stdout, "sleep:    never")
		return nil
	}
	fmt.Fprintf(c.Stdout, "frozen after:   %s without a request\nstopped after:  %s without a request\n", p.After, p.StopAfter)
	return nil
}

package commands

// events: the audit log.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"pier/app"
)

// eventsBackend is what the events command uses: the audit log.
type eventsBackend interface {
	Events(ctx context.Context, app string, limit int) ([]app.Event, error)
}

// eventsCommands is events.
type eventsCommands struct{ p eventsBackend }

// events lists the audit log: "events [APP] [-n N] [--format json]".
func (h eventsCommands) events(ctx context.Context, c Call, args []string) error {
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
	evs, err := h.p.Events(ctx, name, n)
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
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "WHEN\tWHO\tAPP\tWHAT")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\n", e.At.Local().Format(time.DateTime), e.Who, orDash(e.App), e.Action, e.Detail)
	}
	return tw.Flush()
}

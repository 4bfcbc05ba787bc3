package commands

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"pier/app"
)

// configBackend is what the config:* commands use: an app's config vars,
// read and changed.
type configBackend interface {
	Config(ctx context.Context, name string) (map[string]string, error)
	ChangeConfig(ctx context.Context, c app.ConfigChange) error
}

// configCommands are config:show, get, set and unset.
type configCommands struct{ p configBackend }

// configShow prints an app's config vars, values masked unless --reveal.
func (h configCommands) configShow(ctx context.Context, c Call, args []string) error {
	name, flags, err := appAndFlags(args, "--reveal", "--format")
	if err != nil {
		return err
	}
	asJSON, err := formatFlag(flags)
	if err != nil {
		return err
	}
	cfg, err := h.p.Config(ctx, name)
	if err != nil {
		return err
	}
	reveal := flags["--reveal"] != ""
	shown := map[string]string{}
	for k, v := range cfg {
		if reveal {
			shown[k] = v
		} else {
			shown[k] = app.MaskValue(v)
		}
	}
	if asJSON {
		return writeJSON(c.Stdout, shown)
	}
	if len(shown) == 0 {
		fmt.Fprintf(c.Stdout, "%s has no config vars\n", name)
		return nil
	}
	keys := make([]string, 0, len(shown))
	for k := range shown {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := columns(c.Stdout)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s:\t%s\n", k, shown[k])
	}
	if !reveal {
		defer fmt.Fprintf(c.Stdout, "(values masked: config:show %s --reveal shows them)\n", name)
	}
	return tw.Flush()
}

func (h configCommands) configGet(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	cfg, err := h.p.Config(ctx, args[0])
	if err != nil {
		return err
	}
	v, ok := cfg[args[1]]
	if !ok {
		return fmt.Errorf("%s has no config var %s", args[0], args[1])
	}
	fmt.Fprintln(c.Stdout, v)
	return nil
}

func (h configCommands) configSet(ctx context.Context, c Call, args []string) error {
	name, rest, noRestart, err := configArgs(args)
	if err != nil {
		return err
	}
	set := map[string]string{}
	for _, kv := range rest {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return badUsage("%.80q: want KEY=value", kv)
		}
		if err := app.ValidEnvName(k); err != nil {
			return badUsage("%v", err)
		}
		set[k] = v
	}
	return h.p.ChangeConfig(ctx, app.ConfigChange{App: name, Set: set, NoRestart: noRestart, User: c.User.Name, Out: c.Stdout})
}

func (h configCommands) configUnset(ctx context.Context, c Call, args []string) error {
	name, keys, noRestart, err := configArgs(args)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := app.ValidEnvName(k); err != nil {
			return badUsage("%v", err)
		}
	}
	return h.p.ChangeConfig(ctx, app.ConfigChange{App: name, Unset: keys, NoRestart: noRestart, User: c.User.Name, Out: c.Stdout})
}

// configArgs splits "APP [--no-restart] ITEM..." (the flag may stand anywhere).
func configArgs(args []string) (name string, items []string, noRestart bool, err error) {
	var rest []string
	for _, a := range args {
		switch {
		case a == "--no-restart":
			noRestart = true
		case strings.HasPrefix(a, "--"):
			return "", nil, false, badUsage("unknown flag %.40q", a)
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) < 2 {
		return "", nil, false, badUsage("")
	}
	if err := app.ValidName(rest[0]); err != nil {
		return "", nil, false, badUsage("%v", err)
	}
	return rest[0], rest[1:], noRestart, nil
}

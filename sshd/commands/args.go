package commands

// Argument parsing that several commands share.

import (
	"slices"
	"strings"

	"pier/app"
)

// listFormat parses the list commands' only option, "--format json" (or
// "--format=json", or "text", the default).
func listFormat(args []string) (asJSON bool, err error) {
	var v string
	switch {
	case len(args) == 0:
		return false, nil
	case len(args) == 2 && args[0] == "--format":
		v = args[1]
	case len(args) == 1 && strings.HasPrefix(args[0], "--format="):
		v = strings.TrimPrefix(args[0], "--format=")
	default:
		return false, badUsage("")
	}
	switch v {
	case "json":
		return true, nil
	case "text":
		return false, nil
	}
	return false, badUsage("unknown format %.40q: use json or text", v)
}

// appAndFlags parses "APP [flags]" where allowed flags are boolean ("--reveal")
// or take a value ("--format json"; listed by name, value follows).
func appAndFlags(args []string, allowed ...string) (string, map[string]string, error) {
	flags := map[string]string{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		ok := false
		for _, f := range allowed {
			if a == f {
				ok = true
			}
		}
		if !ok {
			return "", nil, badUsage("unknown flag %.40q", a)
		}
		if a == "--format" {
			if i+1 >= len(args) {
				return "", nil, badUsage("--format needs a value: json")
			}
			i++
			flags[a] = args[i]
			continue
		}
		flags[a] = "yes"
	}
	if len(pos) != 1 {
		return "", nil, badUsage("")
	}
	if err := app.ValidName(pos[0]); err != nil {
		return "", nil, badUsage("%v", err)
	}
	return pos[0], flags, nil
}

// appListing parses "APP [--format json]" of listing commands.
func appListing(args []string) (name string, asJSON bool, err error) {
	name, flags, err := appAndFlags(args, "--format")
	if err != nil {
		return "", false, err
	}
	asJSON, err = formatFlag(flags)
	return name, asJSON, err
}

func formatFlag(flags map[string]string) (bool, error) {
	switch flags["--format"] {
	case "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, badUsage("unknown format %.20q: the only format is json", flags["--format"])
}

// splitFlags separates positional arguments from allowed --flag value pairs.
func splitFlags(args []string, withValue ...string) ([]string, map[string]string, error) {
	flags := map[string]string{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") && !slices.Contains(withValue, a) { // "-n" is a short flag
			pos = append(pos, a)
			continue
		}
		known := false
		for _, f := range withValue {
			known = known || a == f
		}
		if !known {
			return nil, nil, badUsage("unknown flag %.40q", a)
		}
		if i+1 >= len(args) {
			return nil, nil, badUsage("%s needs a value", a)
		}
		i++
		flags[a] = args[i]
	}
	return pos, flags, nil
}

// oneApp runs f for commands that take exactly an app name.
func oneApp(args []string, f func(name string) error) error {
	if len(args) != 1 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	return f(args[0])
}

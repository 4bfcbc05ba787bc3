package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"pier/app"
)

// appsList prints every app with its current release and URL. With
// --format json it prints an array of {"name","release","state","url"}
// objects, where release is the version number and 0 means never deployed,
// and state is app.AppState.Word: running, static, frozen, stopped or
// not-deployed.
func (t *Table) appsList(ctx context.Context, c Call, args []string) error {
	asJSON, err := listFormat(args)
	if err != nil {
		return err
	}
	apps, err := t.p.Apps(ctx)
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
			rows = append(rows, row{a.Name, a.Release, a.State().Word(), t.url(a.Name)})
		}
		return writeJSON(c.Stdout, rows)
	}
	if len(apps) == 0 {
		fmt.Fprintln(c.Stdout, "no apps yet: git push one, or run apps:create NAME")
		return nil
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tRELEASE\tSTATE\tURL")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, releaseLabel(a), a.State().Word(), orDash(t.url(a.Name)))
	}
	return tw.Flush()
}

func (t *Table) appsCreate(ctx context.Context, c Call, args []string) error {
	if len(args) != 1 {
		return badUsage("")
	}
	name := args[0]
	if err := app.ValidName(name); err != nil {
		return badUsage("%v", err)
	}
	if _, err := t.p.CreateApp(ctx, name); err != nil {
		return about("app", name, err)
	}
	fmt.Fprintf(c.Stdout, "created app %s\n", name)
	if u := t.url(name); u != "" {
		fmt.Fprintf(c.Stdout, "it will answer at %s once deployed\n", u)
	}
	return nil
}

func (t *Table) url(name string) string {
	if t.info.URL == nil {
		return ""
	}
	return t.info.URL(name)
}

func releaseLabel(a app.App) string {
	if a.Release == 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", a.Release)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

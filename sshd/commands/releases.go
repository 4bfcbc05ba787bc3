package commands

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"pier/app"
)

// releasesBackend is what the releases commands use: an app's releases,
// which one is current, and rollbacks.
type releasesBackend interface {
	App(ctx context.Context, name string) (app.App, error)
	Releases(ctx context.Context, name string) ([]app.Release, error)
	Release(ctx context.Context, name string, version int) (app.Release, error)
	Rollback(ctx context.Context, name string, version int, user string, out io.Writer) (app.Release, error)
}

// releasesCommands are releases, releases:info and releases:rollback.
type releasesCommands struct{ p releasesBackend }

func (h releasesCommands) releases(ctx context.Context, c Call, args []string) error {
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	a, err := h.p.App(ctx, name)
	if err != nil {
		return err
	}
	rs, err := h.p.Releases(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		rows := make([]releaseJSON, 0, len(rs))
		for _, r := range rs {
			rows = append(rows, toJSON(r, r.Version == a.Release))
		}
		return writeJSON(c.Stdout, rows)
	}
	if len(rs) == 0 {
		fmt.Fprintf(c.Stdout, "%s has no releases yet: git push it\n", name)
		return nil
	}
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "VERSION\tDESCRIPTION\tBY\tWHEN\t")
	for _, r := range rs {
		cur := ""
		if r.Version == a.Release {
			cur = "(current)"
		}
		fmt.Fprintf(tw, "v%d\t%s\t%s\t%s\t%s\n", r.Version, r.Description, r.CreatedBy, r.CreatedAt.Local().Format(time.DateTime), cur)
	}
	return tw.Flush()
}

func (h releasesCommands) releasesInfo(ctx context.Context, c Call, args []string) error {
	var flags map[string]string
	pos, flags, err := splitFlags(args, "--format")
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return badUsage("")
	}
	name, version, err := appVersion(pos)
	if err != nil {
		return err
	}
	asJSON, err := formatFlag(flags)
	if err != nil {
		return err
	}
	r, err := h.p.Release(ctx, name, version)
	if err != nil {
		return err
	}
	a, err := h.p.App(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.Stdout, toJSON(r, r.Version == a.Release))
	}
	fmt.Fprintf(c.Stdout, "=== %s v%d", name, r.Version)
	if r.Version == a.Release {
		fmt.Fprint(c.Stdout, " (current)")
	}
	fmt.Fprintln(c.Stdout)
	tw := columns(c.Stdout)
	fmt.Fprintf(tw, "Description:\t%s\n", r.Description)
	fmt.Fprintf(tw, "By:\t%s\n", r.CreatedBy)
	fmt.Fprintf(tw, "When:\t%s\n", r.CreatedAt.Local().Format(time.DateTime))
	fmt.Fprintf(tw, "Commit:\t%s\n", orDash(r.Commit))
	fmt.Fprintf(tw, "Stack:\t%s\n", r.Stack)
	fmt.Fprintf(tw, "Image:\t%s\n", r.Image)
	for _, p := range slices.Sorted(maps.Keys(r.Processes)) {
		fmt.Fprintf(tw, "Process %s:\t%s\n", p, r.Processes[p])
	}
	keys := slices.Sorted(maps.Keys(r.Config))
	fmt.Fprintf(tw, "Config vars:\t%s\n", orDash(strings.Join(keys, ", ")))
	return tw.Flush()
}

func (h releasesCommands) rollback(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 {
		return badUsage("")
	}
	name, version, err := appVersion(args)
	if err != nil {
		return err
	}
	_, err = h.p.Rollback(ctx, name, version, c.User.Name, c.Stdout)
	return err
}

// appVersion parses "APP vN" (the v is optional).
func appVersion(args []string) (string, int, error) {
	if err := app.ValidName(args[0]); err != nil {
		return "", 0, badUsage("%v", err)
	}
	v, err := strconv.Atoi(strings.TrimPrefix(args[1], "v"))
	if err != nil || v < 1 {
		return "", 0, badUsage("%.20q is not a release version: want e.g. v3", args[1])
	}
	return args[0], v, nil
}

type releaseJSON struct {
	Version     int               `json:"version"`
	Current     bool              `json:"current"`
	Description string            `json:"description"`
	CreatedBy   string            `json:"created_by"`
	CreatedAt   time.Time         `json:"created_at"`
	Commit      string            `json:"commit"`
	Stack       string            `json:"stack"`
	Image       string            `json:"image"`
	Processes   map[string]string `json:"processes"`
	ConfigKeys  []string          `json:"config_keys"`
}

func toJSON(r app.Release, current bool) releaseJSON {
	return releaseJSON{r.Version, current, r.Description, r.CreatedBy, r.CreatedAt, r.Commit, r.Stack,
		r.Image, r.Processes, slices.Sorted(maps.Keys(r.Config))}
}

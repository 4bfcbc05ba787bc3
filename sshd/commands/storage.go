package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"pier/app"
)

// storageBackend is what the storage:* commands use: an app's volumes.
type storageBackend interface {
	Volumes(ctx context.Context, name string) ([]app.Volume, error)
	Mount(ctx context.Context, name string, v app.Volume) error
	Unmount(ctx context.Context, name, volume string) error
	Orphans(ctx context.Context) ([]app.OrphanVolumes, error)
	PurgeOrphan(ctx context.Context, id string) error
}

// storageCommands are storage:mount, unmount and list.
type storageCommands struct{ p storageBackend }

func (h storageCommands) storageMount(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	v, err := app.ParseMount(args[1])
	if err != nil {
		return badUsage("%v", err)
	}
	if err := h.p.Mount(ctx, args[0], v); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> Volume %s mounted at %s for %s; it applies to processes started from now on (ps:restart %s)\n",
		v.Name, v.Path, args[0], args[0])
	return nil
}

func (h storageCommands) storageUnmount(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 {
		return badUsage("")
	}
	if err := app.ValidName(args[0]); err != nil {
		return badUsage("%v", err)
	}
	if err := h.p.Unmount(ctx, args[0], args[1]); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> Volume %s unmounted from %s; its data is kept\n", args[1], args[0])
	return nil
}

func (h storageCommands) storageList(ctx context.Context, c Call, args []string) error {
	if len(args) > 0 && args[0] == "--orphans" {
		return h.orphans(ctx, c, args[1:])
	}
	name, asJSON, err := appListing(args)
	if err != nil {
		return err
	}
	vols, err := h.p.Volumes(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		if vols == nil {
			vols = []app.Volume{}
		}
		return writeJSON(c.Stdout, vols)
	}
	if len(vols) == 0 {
		fmt.Fprintf(c.Stdout, "%s has no volumes: storage:mount %s NAME:/path adds one\n", name, name)
		return nil
	}
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "VOLUME\tPATH")
	for _, v := range vols {
		fmt.Fprintf(tw, "%s\t%s\n", v.Name, v.Path)
	}
	return tw.Flush()
}

// orphans lists the volumes of destroyed apps: storage:list --orphans.
func (h storageCommands) orphans(ctx context.Context, c Call, args []string) error {
	_, flags, err := splitFlags(args, "--format")
	if err != nil {
		return err
	}
	asJSON, err := formatFlag(flags)
	if err != nil {
		return err
	}
	if len(args) != 0 && len(flags) == 0 {
		return badUsage("")
	}
	orphans, err := h.p.Orphans(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if orphans == nil {
			orphans = []app.OrphanVolumes{}
		}
		return writeJSON(c.Stdout, orphans)
	}
	if len(orphans) == 0 {
		fmt.Fprintln(c.Stdout, "no orphaned volumes: every volume belongs to an app")
		return nil
	}
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "ID\tAPP\tDESTROYED\tVOLUMES\tSIZE")
	for _, o := range orphans {
		when := "-"
		if !o.Destroyed.IsZero() {
			when = o.Destroyed.Format(time.DateTime) + " UTC"
		}
		size := humanBytes(o.Bytes)
		if o.Bytes < 0 {
			size = "≥" + humanBytes(-o.Bytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.ID, o.App, when, orDash(strings.Join(o.Volumes, ", ")), size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, "storage:purge ID deletes one, with its data")
	return nil
}

// storagePurge deletes orphaned volumes: storage:purge ID.
func (h storageCommands) storagePurge(ctx context.Context, c Call, args []string) error {
	if len(args) != 1 {
		return badUsage("")
	}
	if err := h.p.PurgeOrphan(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> Deleted the orphaned volumes %s\n", args[0])
	return nil
}

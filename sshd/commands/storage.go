package commands

import (
	"context"
	"fmt"

	"pier/app"
)

// storageBackend is what the storage:* commands use: an app's volumes.
type storageBackend interface {
	Volumes(ctx context.Context, name string) ([]app.Volume, error)
	Mount(ctx context.Context, name string, v app.Volume) error
	Unmount(ctx context.Context, name, volume string) error
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

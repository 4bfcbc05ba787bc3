package commands

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

// help lists the commands the caller may run, or shows one command's usage
// and example.
func (t *Table) help(_ context.Context, c Call, args []string) error {
	switch len(args) {
	case 0:
		t.writeList(c.Stdout, c.User)
		return nil
	case 1:
		cmd := t.lookup(args[0], c.User)
		if cmd == nil {
			return t.unknownError(args[0], c.User)
		}
		writeUsage(c.Stdout, cmd)
		return nil
	default:
		return badUsage("")
	}
}

func (t *Table) version(_ context.Context, c Call, args []string) error {
	if len(args) != 0 {
		return badUsage("")
	}
	fmt.Fprintf(c.Stdout, "pier %s\n", t.info.Version)
	return nil
}

// writeList prints the visible commands with their summaries.
func (t *Table) writeList(w io.Writer, user Identity) {
	fmt.Fprintf(w, "pier %s\n\nCommands:\n", t.info.Version)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range t.cmds {
		if c.hidden {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.usage(), c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun \"help COMMAND\" for an example. Deploy with: git push ssh://pier@HOST:PORT/APP main\n")
}

func writeUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: %s\n  %s\n\nexample:\n  %s\n", c.usage(), c.summary, c.example)
}

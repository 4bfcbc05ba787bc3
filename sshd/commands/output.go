package commands

// Output that several commands share.

import (
	"encoding/json"
	"io"
	"text/tabwriter"
)

// writeJSON writes v to w as indented JSON (--format json).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// orDash is s, or "-" for an empty s (a table cell with nothing in it).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// columns returns a writer that lines up w's tab-separated cells in
// columns two spaces apart, as the commands print their tables. Flush it
// when the table is written.
func columns(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

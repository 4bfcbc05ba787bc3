package web

// The nodes page: the cluster's control plane as this machine sees it and
// the machines with their load, as cluster:status and nodes:list print them.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pier/app"
)

// Cluster is what the nodes page reads of the cluster of pier machines
// this one is in; *cluster.Cluster implements it. It is called from
// concurrent requests. Its errors are server errors: the page shows them
// as such.
type Cluster interface {
	// ClusterStatus is the control plane as this machine sees it;
	// Enabled is false, without an error, on a machine in no cluster.
	ClusterStatus(ctx context.Context) (app.ClusterStatus, error)
	// Nodes are the cluster's members, this machine among them (Self).
	Nodes(ctx context.Context) ([]app.Member, error)
}

// nodeRow is one machine on the nodes page.
type nodeRow struct {
	app.Member
	// StateClass is the CSS class of its state: one of the states
	// app.Member documents, "unknown" for anything else.
	StateClass string
	// MemUsed is the share of its memory in use, 0 to 100, and MemLevel
	// how worrying that is ("ok", "warn", "bad"); MemKnown is false when
	// the machine did not say how much memory it has.
	MemKnown bool
	MemUsed  int
	MemLevel string
	SeenAgo  string // "3s ago", or "never"
}

// nodesPage shows the cluster: its status and its machines. A dashboard
// without a Cluster, or on a machine in no cluster, says how to start one.
func (d *Dashboard) nodesPage(c echo.Context) error {
	data := map[string]any{"Title": "Nodes"}
	if d.cfg.Cluster == nil {
		return d.render(c, http.StatusOK, "nodes", data)
	}
	ctx := c.Request().Context()
	st, err := d.cfg.Cluster.ClusterStatus(ctx)
	if err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	if !st.Enabled {
		return d.render(c, http.StatusOK, "nodes", data)
	}
	members, err := d.cfg.Cluster.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("cluster nodes: %w", err)
	}
	now := time.Now()
	rows := make([]nodeRow, 0, len(members))
	for _, m := range members {
		rows = append(rows, newNodeRow(m, now))
	}
	data["Status"], data["Nodes"] = st, rows
	data["LastContact"] = ago(st.LastContact, now)
	return d.render(c, http.StatusOK, "nodes", data)
}

func newNodeRow(m app.Member, now time.Time) nodeRow {
	r := nodeRow{Member: m, StateClass: "unknown", SeenAgo: ago(m.Seen, now)}
	switch m.State {
	case "alive", "suspect", "failed", "left":
		r.StateClass = m.State
	}
	if m.MemTotal > 0 {
		avail := min(max(m.MemAvail, 0), m.MemTotal)
		r.MemKnown = true
		r.MemUsed = int((m.MemTotal - avail) * 100 / m.MemTotal)
		switch {
		case r.MemUsed >= 90:
			r.MemLevel = "bad"
		case r.MemUsed >= 75:
			r.MemLevel = "warn"
		default:
			r.MemLevel = "ok"
		}
	}
	return r
}

// ago is how long before now t was, to the largest whole unit: "3s ago",
// "5m ago", "2h ago", "4d ago"; "never" for the zero time, "just now" for
// less than a second (or a clock ahead of ours).
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

package runtime

import (
	"context"
	"io"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"

	"pier/app"
)

var _ app.LogSource = (*Containerd)(nil)

// Running reports whether an instance's process is alive (running or paused).
func (c *Containerd) Running(ctx context.Context, id string) (bool, error) {
	ctx = c.ctx(ctx)
	ctr, err := c.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st, err := task.Status(ctx)
	if err != nil {
		return false, err
	}
	return st.Status == containerd.Running || st.Status == containerd.Paused, nil
}

// CollectLogs turns instances' raw output (RawLogPath) into each app's log
// under <DataDir>/logs until ctx ends; the daemon runs it once. See
// logstore.Store.Run.
func (c *Containerd) CollectLogs(ctx context.Context) { c.logs.Run(ctx) }

// Logs implements app.LogSource over the collected logs (logstore.Store.Logs).
// Safe for concurrent use.
func (c *Containerd) Logs(ctx context.Context, app string, q app.LogQuery, w io.Writer) error {
	return c.logs.Logs(ctx, app, q, w)
}

// Tail returns up to n last lines of an instance's output, including what
// the collector has not collected yet.
func (c *Containerd) Tail(app, id string, n int) []string {
	return c.logs.Tail(app, id, n)
}

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

// CollectLogs turns instances' raw output into each app's log until ctx
// ends; the daemon runs it once. Every 200 ms it reads what the shims
// appended to the raw files (RawLogPath), and appends each complete line to
// <DataDir>/logs/<app>/app.log as
//
//	2026-11-21T20:40:01.123Z web.3f2a91c0 <text>
//
// The time is when pier read the line: within the poll interval while pier
// runs; lines written while pier was down get the time it came back. Lines
// of different instances read in the same poll are grouped by instance.
// A line without its newline is held for up to 1 s; lines are cut at 16 KiB.
//
// The shims write whether pier runs or not, so apps never wait for it. How
// far each raw file is collected is recorded in offsets.json, so a restart
// neither loses nor repeats lines. app.log is renamed to app.log.1 before it
// would pass Config.LogMaxBytes; collected raw files are emptied past 1 MiB.
func (c *Containerd) CollectLogs(ctx context.Context) { c.logs.run(ctx) }

// Logs implements app.LogSource over the collected logs: the last q.Lines
// lines (default 100) of app.log.1 and app.log, only of q.Process's instances
// if set, then with q.Follow the new lines as CollectLogs writes them, until
// ctx ends (which returns nil). A follower that falls 256 lines behind loses
// lines and is told "[pier: N lines dropped]"; it never slows the collector.
// Safe for concurrent use.
func (c *Containerd) Logs(ctx context.Context, app string, q app.LogQuery, w io.Writer) error {
	return c.logs.logs(ctx, app, q, w)
}

// Tail returns up to n last lines of an instance's output, including what
// the collector has not collected yet.
func (c *Containerd) Tail(app, id string, n int) []string {
	return c.logs.tail(app, id, n)
}

package runtime

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
)

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

// Tail returns up to n last lines of an instance's output (read from the end
// of its log file, at most 64 KiB).
func (c *Containerd) Tail(app, id string, n int) []string {
	f, err := os.Open(c.LogPath(app, id))
	if err != nil {
		return nil
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		f.Seek(-max, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

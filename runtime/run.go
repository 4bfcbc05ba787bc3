package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"

	"pier/app"
)

// RunOnce runs o in a read-only container of o.Image (tmpfs /tmp, the app's
// volumes, its own network namespace) and returns its exit code. Cancelling
// ctx kills it. Nothing of it is left afterwards.
func (c *Containerd) RunOnce(ctx context.Context, o app.OneOff) (int, error) {
	ctx = c.ctx(ctx)
	ctx, done, err := c.client.WithLease(ctx)
	if err != nil {
		return -1, err
	}
	defer done(context.WithoutCancel(ctx))
	img, err := c.client.GetImage(ctx, o.Image)
	if err != nil {
		return -1, fmt.Errorf("image %s: %w", o.Image, err)
	}
	mounts, err := c.volumeMounts(o.App, o.Volumes)
	if err != nil {
		return -1, err
	}
	id := o.App + "-run-" + randomID()[:8]
	return c.runToCompletion(ctx, id, o.Out, true, func(nsPath, output string) []containerd.NewContainerOpts {
		return []containerd.NewContainerOpts{
			containerd.WithImage(img),
			containerd.WithSnapshotter(c.cfg.Snapshotter),
			containerd.WithNewSnapshot(id, img), // writable for volume mountpoints; the root is read-only
			containerd.WithContainerLabels(map[string]string{labelKind: "oneoff", labelApp: o.App, labelNetns: nsPath}),
			containerd.WithNewSpec(append([]oci.SpecOpts{oci.WithImageConfig(img)}, c.specOpts(process{
				Args: []string{"/bin/sh", "-c", o.Command}, Env: o.Env, ReadOnly: true,
				Mounts: mounts, Memory: c.memory(o.Limits), CPU: o.Limits.CPU, Netns: nsPath,
				Hostname: o.App, ShimGroup: "pier-" + o.App, Output: output,
			})...)...),
		}
	})
}

// runToCompletion creates container id with the options opts returns for its
// network namespace and output file (process.Output), runs its task with
// the output streamed to out, and removes the task, network and container
// (and its snapshot if cleanSnapshot). The process writes its output into
// the file itself: through the shim, FIFOs lost short processes' output,
// and so, rarely and under load, did a shim-written file.
func (c *Containerd) runToCompletion(ctx context.Context, id string, out io.Writer, cleanSnapshot bool,
	opts func(nsPath, output string) []containerd.NewContainerOpts) (int, error) {
	logFile, err := os.CreateTemp("", "pier-run-*.log")
	if err != nil {
		return -1, err
	}
	defer os.Remove(logFile.Name())
	// The process may run as the app user; nobody else may read its output.
	err = logFile.Chown(AppUID, AppGID)
	if cerr := logFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return -1, fmt.Errorf("output file: %w", err)
	}

	nsPath, err := c.net.create()
	if err != nil {
		return -1, err
	}
	cleanup := context.WithoutCancel(ctx)
	defer c.net.destroy(cleanup, id, nsPath)

	// The container and its task are created whatever ctx does meanwhile,
	// so that a cancel in the middle of a create (a cron run killed as its
	// app is destroyed) cannot leave one behind that nothing deletes.
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	container, err := c.client.NewContainer(cleanup, id, opts(nsPath, logFile.Name())...)
	if err != nil {
		return -1, fmt.Errorf("create container: %w", err)
	}
	if cleanSnapshot {
		defer container.Delete(cleanup, containerd.WithSnapshotCleanup)
	} else {
		defer container.Delete(cleanup)
	}
	task, err := container.NewTask(cleanup, cio.NullIO)
	if err != nil {
		return -1, fmt.Errorf("create task: %w", err)
	}
	defer task.Delete(cleanup, containerd.WithProcessKill)
	if _, err := c.net.attach(ctx, id, nsPath); err != nil {
		return -1, err
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return -1, err
	}
	if err := task.Start(ctx); err != nil {
		return -1, fmt.Errorf("start: %w", err)
	}
	stop := make(chan struct{})
	tailed := make(chan error, 1)
	go func() { tailed <- tail(logFile.Name(), out, stop) }()

	var status containerd.ExitStatus
	select {
	case status = <-exited:
	case <-ctx.Done():
		_ = task.Kill(cleanup, 9, containerd.WithKillAll)
		select {
		case status = <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	// Children the process left behind may still write: deleting the task
	// kills them, and the rest is read once the file stops growing.
	_, _ = task.Delete(cleanup, containerd.WithProcessKill)
	settle(logFile.Name(), 20*time.Millisecond, 300*time.Millisecond)
	close(stop)
	if err := <-tailed; err != nil {
		return -1, err
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	return int(status.ExitCode()), status.Error()
}

// settle returns once path has the same size twice, step apart, or after
// max.
func settle(path string, step, max time.Duration) {
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	last := size()
	for waited := time.Duration(0); waited < max; waited += step {
		time.Sleep(step)
		cur := size()
		if cur == last {
			return
		}
		last = cur
	}
}

// tail copies path to w as it grows until stop is closed, then copies the rest.
func tail(path string, w io.Writer, stop <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			select {
			case <-stop:
				_, err := io.CopyBuffer(w, f, buf)
				return err
			case <-time.After(30 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"

	"pier/app"
)

// Container labels pier sets; they are how observed state is read back.
const (
	labelKind    = "pier.kind" // "instance" or "build"
	labelApp     = "pier.app"
	labelRelease = "pier.release"
	labelProcess = "pier.process"
	labelPort    = "pier.port"
	labelNetns   = "pier.netns"
	labelAddr    = "pier.addr"
	labelRestart = "pier.restart" // the app's restart count at start
)

// Start creates and starts an instance: a container of in.Image (its root
// writable and thrown away with it, systemPaths read-only) running in.Command as the image's user, with a tmpfs /tmp, the memory and
// pids limits, and its own network namespace on the bridge. It returns once
// the process runs, with Addr set to ip:port.
func (c *Containerd) Start(ctx context.Context, in app.Instance) (out app.Instance, err error) {
	defer func() { err = c.onFullDisk(err) }()
	ctx = c.ctx(ctx)
	ctx, done, err := c.client.WithLease(ctx)
	if err != nil {
		return in, err
	}
	defer done(ctx)

	img, err := c.client.GetImage(ctx, in.Image)
	if err != nil {
		return in, fmt.Errorf("start %s: image %s: %w", in.ID, in.Image, err)
	}
	nsPath, err := c.net.create()
	if err != nil {
		return in, err
	}
	defer func() {
		if err != nil {
			// Leave nothing behind: the container, its snapshot, task, network.
			cleanup := context.WithoutCancel(ctx)
			if rmErr := c.remove(cleanup, in.ID, 0); rmErr != nil {
				c.log.Warn("cleanup after failed start", "id", in.ID, "err", rmErr)
			}
			c.net.destroy(cleanup, in.ID, nsPath)
		}
	}()

	labels := map[string]string{
		labelKind: "instance", labelApp: in.App, labelRelease: strconv.Itoa(in.Release),
		labelProcess: in.Process, labelPort: strconv.Itoa(in.Port), labelNetns: nsPath,
		labelRestart: strconv.Itoa(in.Restart),
	}
	uid, gid := imageUser(ctx, img)
	mounts, err := c.volumeMounts(in.App, uid, gid, in.Volumes)
	if err != nil {
		return in, err
	}
	spec := c.specOpts(process{
		Args:          shellArgs(in.Command),
		Env:           in.Env,
		ProtectSystem: true,
		Mounts:        mounts,
		Memory:        c.memory(in.Limits),
		CPU:           in.Limits.CPU,
		Netns:         nsPath,
		Hostname:      in.App,
		ShimGroup:     appShimGroup,
	})
	container, err := c.client.NewContainer(ctx, in.ID,
		containerd.WithImage(img),
		containerd.WithSnapshotter(c.cfg.Snapshotter),
		// The instance's own writable snapshot: what it writes goes when it
		// stops (see systemPaths).
		containerd.WithNewSnapshot(in.ID, img),
		containerd.WithContainerLabels(labels),
		containerd.WithNewSpec(append([]oci.SpecOpts{oci.WithImageConfig(img)}, spec...)...),
	)
	if err != nil {
		return in, fmt.Errorf("create container %s: %w", in.ID, err)
	}
	logPath, err := c.logs.OpenRaw(in.App, in.Process, in.ID)
	if err != nil {
		return in, err
	}
	task, err := container.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		return in, fmt.Errorf("create task %s: %w", in.ID, err)
	}
	ip, err := c.net.attach(ctx, in.ID, nsPath)
	if err != nil {
		return in, err
	}
	in.Addr = net.JoinHostPort(ip, strconv.Itoa(in.Port))
	if _, err := container.SetLabels(ctx, map[string]string{labelAddr: in.Addr}); err != nil {
		return in, fmt.Errorf("label %s: %w", in.ID, err)
	}
	if err := task.Start(ctx); err != nil {
		return in, fmt.Errorf("start task %s: %w", in.ID, err)
	}
	in.Running = true
	return in, nil
}

// Stop ends an instance: SIGTERM to all its processes, SIGKILL after the stop
// timeout, then removes its task, network, container and snapshot. Stopping
// an unknown instance succeeds.
func (c *Containerd) Stop(ctx context.Context, id string) error {
	return c.remove(c.ctx(ctx), id, c.cfg.StopTimeout)
}

// remove stops a container's task (SIGTERM, SIGKILL after grace) and
// removes the task, its network, the container and its snapshot.
func (c *Containerd) remove(ctx context.Context, id string, grace time.Duration) error {
	c.resumed(id)
	container, err := c.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", id, err)
	}
	labels, err := container.Labels(ctx)
	if err != nil {
		return fmt.Errorf("labels of %s: %w", id, err)
	}
	if task, err := container.Task(ctx, nil); err == nil {
		c.stopTask(ctx, task, grace)
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %s: %w", id, err)
		}
	}
	if err := c.net.destroy(ctx, id, labels[labelNetns]); err != nil {
		c.log.Warn("network teardown", "id", id, "err", err)
	}
	if err := container.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	c.logs.Forget(labels[labelApp], labels[labelProcess], id) // collect its last output, delete the raw file
	return nil
}

// stopTask signals every process of the task, gracefully first.
func (c *Containerd) stopTask(ctx context.Context, task containerd.Task, grace time.Duration) {
	st, err := task.Status(ctx)
	if err != nil {
		return
	}
	switch st.Status {
	case containerd.Stopped, containerd.Created:
		return
	case containerd.Paused:
		_ = task.Resume(ctx)
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return
	}
	if err := task.Kill(ctx, syscall.SIGTERM, containerd.WithKillAll); err != nil {
		return
	}
	// An app process that is the container's first process and has no
	// SIGTERM handler ignores SIGTERM (the kernel protects a namespace's
	// init): it would have ended, so it is killed now rather than after
	// the grace period. Its own children had their SIGTERM.
	if !catchesSIGTERM(task.Pid()) {
		_ = task.Kill(ctx, syscall.SIGKILL)
	}
	select {
	case <-exited:
		return
	case <-time.After(grace):
	case <-ctx.Done():
	}
	_ = task.Kill(context.WithoutCancel(ctx), syscall.SIGKILL, containerd.WithKillAll)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

// catchesSIGTERM reports whether host process pid has a SIGTERM handler
// (SigCgt in /proc/<pid>/status); true when that can't be read.
func catchesSIGTERM(pid uint32) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || mask&(1<<(syscall.SIGTERM-1)) != 0
		}
	}
	return true
}

// Instances reports every instance container, with whether its process runs.
func (c *Containerd) Instances(ctx context.Context) ([]app.Instance, error) {
	return c.instances(ctx, fmt.Sprintf(`labels.%q==instance`, labelKind))
}

// AppInstances reports one app's instance containers.
func (c *Containerd) AppInstances(ctx context.Context, appName string) ([]app.Instance, error) {
	return c.instances(ctx, fmt.Sprintf(`labels.%q==instance,labels.%q==%q`, labelKind, labelApp, appName))
}

func (c *Containerd) instances(ctx context.Context, filter string) ([]app.Instance, error) {
	ctx = c.ctx(ctx)
	containers, err := c.client.Containers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	// One call for every task's status, not two per container.
	tasks, err := c.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	status := map[string]tasktypes.Status{}
	for _, t := range tasks.Tasks {
		status[t.ID] = t.Status
	}
	var out []app.Instance
	for _, ctr := range containers {
		info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		l := info.Labels
		release, _ := strconv.Atoi(l[labelRelease])
		port, _ := strconv.Atoi(l[labelPort])
		restart, _ := strconv.Atoi(l[labelRestart])
		in := app.Instance{
			ID: info.ID, App: l[labelApp], Release: release, Process: l[labelProcess],
			Image: info.Image, Port: port, Addr: l[labelAddr], Restart: restart,
		}
		st := status[info.ID]
		in.Running = st == tasktypes.Status_RUNNING || st == tasktypes.Status_PAUSED || st == tasktypes.Status_PAUSING
		in.Paused = st == tasktypes.Status_PAUSED
		out = append(out, in)
	}
	return out, nil
}

// RemoveLeftovers removes build and one-off containers: none outlives the
// daemon that started it, so at start any that exist were cut off by a crash.
// They are killed at once: nobody waits for them and their runs are already
// recorded as interrupted.
func (c *Containerd) RemoveLeftovers(ctx context.Context) error {
	ctx = c.ctx(ctx)
	var errs []error
	for _, kind := range []string{"build", "oneoff"} {
		containers, err := c.client.Containers(ctx, fmt.Sprintf(`labels.%q==%s`, labelKind, kind))
		if err != nil {
			return err
		}
		for _, ctr := range containers {
			errs = append(errs, c.remove(ctx, ctr.ID(), 0))
		}
	}
	return errors.Join(errs...)
}

// RemoveAll stops and removes every container in pier's namespace, builds
// included. For tests and `pier` uninstall paths.
func (c *Containerd) RemoveAll(ctx context.Context) error {
	ctx = c.ctx(ctx)
	containers, err := c.client.Containers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ctr := range containers {
		errs = append(errs, c.remove(ctx, ctr.ID(), 0))
	}
	return errors.Join(errs...)
}

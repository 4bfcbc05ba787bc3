package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
)

// What a container writes outside its volumes and /tmp (into /app, /home,
// /var/tmp: its root is writable, as on Heroku) lands in its own snapshot
// on the host's disk and goes with it. That is bounded: WatchDisk measures
// every running container's writes and kills one past its limit, as kubelet
// evicts a pod past its ephemeral-storage limit. An instance is then
// replaced by the node's heal loop, on a fresh snapshot, and its log says
// why; a one-off's or a build's output says why, and the push or the run
// fails.

// diskLimits are what one kind of container may write: bytes (disk blocks,
// so that a sparse file counts what it takes) and files.
type diskLimits struct {
	bytes, files int64
}

func (c *Containerd) diskLimits(kind string) (diskLimits, bool) {
	switch kind {
	case "instance", "oneoff":
		return diskLimits{c.cfg.DiskLimit, maxWrittenFiles}, true
	case "build":
		return diskLimits{c.cfg.BuildDiskLimit, maxBuildFiles}, true
	}
	return diskLimits{}, false
}

const (
	// maxWrittenFiles bounds the files and directories an app process
	// creates in its root (inodes are a resource too).
	maxWrittenFiles = 100_000
	// maxBuildFiles is the same for a build: node_modules is large.
	maxBuildFiles = 1_000_000
)

// WatchDisk checks the writes of every running container every interval
// until ctx ends.
func (c *Containerd) WatchDisk(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.CheckDisk(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("check what containers wrote", "err", err)
			}
		}
	}
}

// CheckDisk measures what each running container wrote and kills those
// past their limits.
func (c *Containerd) CheckDisk(ctx context.Context) error {
	ctx = c.ctx(ctx)
	list, err := c.client.Containers(ctx)
	if err != nil {
		return err
	}
	low := c.diskLow()
	for _, ctr := range list {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		if low != "" && info.Labels[labelKind] == "build" {
			c.evict(ctx, ctr, info.Labels, low)
			continue
		}
		limits, ok := c.diskLimits(info.Labels[labelKind])
		if !ok || info.SnapshotKey == "" || limits.bytes <= 0 {
			continue
		}
		upper, err := c.upperDir(ctx, info.Snapshotter, info.SnapshotKey)
		if err != nil {
			continue
		}
		bytes, files := written(upper, limits)
		what := "the one-off"
		if p := info.Labels[labelProcess]; info.Labels[labelKind] == "instance" && p != "" {
			what = "this " + p + " process"
		}
		var reason string
		switch {
		case info.Labels[labelKind] == "build" && (bytes > limits.bytes || files > limits.files):
			reason = fmt.Sprintf("pier: the build wrote more than its limit (%d MiB, %d files) and was stopped (pier serve --build-disk sets it)", limits.bytes>>20, limits.files)
		case bytes > limits.bytes:
			reason = fmt.Sprintf("pier: %s wrote more than %d MiB outside its volumes and /tmp (the limit) and was stopped; keep data in a volume (storage:mount)", what, limits.bytes>>20)
		case files > limits.files:
			reason = fmt.Sprintf("pier: %s created more than %d files outside its volumes and /tmp (the limit) and was stopped; keep data in a volume (storage:mount)", what, limits.files)
		default:
			continue
		}
		c.evict(ctx, ctr, info.Labels, reason)
	}
	return nil
}

// diskLow says why builds must stop when the data disk has less than the
// reserve free, or is "".
func (c *Containerd) diskLow() string {
	if c.cfg.DiskReserve <= 0 {
		return ""
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.cfg.DataDir, &st); err != nil {
		return ""
	}
	free := int64(st.Bavail) * st.Bsize
	if free >= c.cfg.DiskReserve {
		return ""
	}
	return fmt.Sprintf("pier: the build was stopped: the disk holding %s is nearly full (%d MiB free; pier keeps %d MiB for its database); free space on it and push again",
		c.cfg.DataDir, free>>20, c.cfg.DiskReserve>>20)
}

// onFullDisk says, in an error that a full disk caused, which disk it is
// and what to do. A CNI plugin's error is only text: it is matched by the
// words of ENOSPC.
func (c *Containerd) onFullDisk(err error) error {
	if err == nil || !errors.Is(err, syscall.ENOSPC) && !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		return err
	}
	return fmt.Errorf("the disk holding %s is full, so nothing new can start on it: free space on it and try again (%w)", c.cfg.DataDir, err)
}

// evict kills a container's task for reason, saying it where the
// container's output goes.
func (c *Containerd) evict(ctx context.Context, ctr containerd.Container, labels map[string]string, reason string) {
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return
	}
	c.log.Warn("container over its disk limit", "id", ctr.ID(), "app", labels[labelApp], "reason", reason)
	if labels[labelKind] == "instance" {
		if f, err := os.OpenFile(c.logs.RawPath(labels[labelApp], labels[labelProcess], ctr.ID()), os.O_APPEND|os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			fmt.Fprintln(f, reason)
			f.Close()
		}
	} else {
		c.evicted.Store(ctr.ID(), reason)
	}
	if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		c.log.Warn("kill a container over its disk limit", "id", ctr.ID(), "err", err)
	}
}

// upperDir is the directory an overlay snapshot's writes land in.
func (c *Containerd) upperDir(ctx context.Context, snapshotter, key string) (string, error) {
	mounts, err := c.client.SnapshotService(snapshotter).Mounts(ctx, key)
	if err != nil {
		return "", err
	}
	upper, _, err := overlayDirs(mounts)
	return upper, err
}

// written sums the disk blocks and counts the entries under dir, stopping
// as soon as either passes its limit.
func written(dir string, l diskLimits) (bytes, files int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		files++
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				bytes += st.Blocks * 512
			}
		}
		if bytes > l.bytes || files > l.files {
			return filepath.SkipAll
		}
		return nil
	})
	return bytes, files
}

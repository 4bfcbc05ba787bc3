package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/errdefs"
)

// Pause freezes every process of an instance (the freezer cgroup): it keeps
// its memory and uses no CPU until Resume.
func (c *Containerd) Pause(ctx context.Context, id string) error {
	c.resumed(id)
	_, err := c.client.TaskService().Pause(c.ctx(ctx), &tasksapi.PauseTaskRequest{ContainerID: id})
	err = errdefs.FromGRPC(err)
	switch {
	case err == nil, errdefs.IsNotFound(err), strings.Contains(err.Error(), "paused"):
		// Gone (an instance being retired) or already paused: nothing to freeze.
		return nil
	}
	return fmt.Errorf("pause %s: %w", id, err)
}

// Resume thaws a paused instance; resuming a running one does nothing.
//
// It is on the path of a request waking an app, and containerd's resume
// runs the runc binary (about 4 ms). So Resume thaws the instance's freezer
// cgroup itself (microseconds; runc derives the state from the same cgroup)
// and returns, and tells containerd in the background so its shim agrees;
// Pause and Stop of that instance wait for that to finish.
func (c *Containerd) Resume(ctx context.Context, id string) error {
	if c.thaw(id) == nil {
		c.freezer.mu.Lock()
		if _, busy := c.freezer.syncing[id]; !busy {
			done := make(chan struct{})
			c.freezer.syncing[id] = done
			go func() {
				defer func() {
					c.freezer.mu.Lock()
					delete(c.freezer.syncing, id)
					c.freezer.mu.Unlock()
					close(done)
				}()
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if err := c.resumeTask(sctx, id); err != nil {
					c.log.Warn("resume after thaw", "id", id, "err", err)
				}
			}()
		}
		c.freezer.mu.Unlock()
		return nil
	}
	return c.resumeTask(ctx, id)
}

func (c *Containerd) resumeTask(ctx context.Context, id string) error {
	_, err := c.client.TaskService().Resume(c.ctx(ctx), &tasksapi.ResumeTaskRequest{ContainerID: id})
	if err != nil && !strings.Contains(err.Error(), "not paused") {
		return fmt.Errorf("resume %s: %w", id, errdefs.FromGRPC(err))
	}
	return nil
}

// resumed waits until a background resume of id (see Resume) is done.
func (c *Containerd) resumed(id string) {
	c.freezer.mu.Lock()
	done, busy := c.freezer.syncing[id]
	c.freezer.mu.Unlock()
	if busy {
		<-done
	}
}

// freezerState tracks background resumes.
type freezerState struct {
	mu      sync.Mutex
	syncing map[string]chan struct{}
}

// thaw writes the instance's freezer cgroup: cgroup v2's cgroup.freeze or
// v1's freezer.state.
func (c *Containerd) thaw(id string) error {
	cg := c.cgroup(id)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return os.WriteFile(filepath.Join("/sys/fs/cgroup", cg, "cgroup.freeze"), []byte("0"), 0)
	}
	return os.WriteFile(filepath.Join("/sys/fs/cgroup/freezer", cg, "freezer.state"), []byte("THAWED"), 0)
}

package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"pier/app"
)

// VolumePath is the host directory of an app's named volume.
func (c *Containerd) VolumePath(appName, volume string) string {
	return filepath.Join(c.volumeDirs().Path(appName), volume)
}

// VolumeMounts creates the app's volume directories (owned by the app
// user) if missing and returns their mounts.
func (c *Containerd) VolumeMounts(appName string, vols []app.Volume) ([]Mount, error) {
	return c.volumeMounts(appName, vols)
}

func (c *Containerd) volumeMounts(appName string, vols []app.Volume) ([]Mount, error) {
	var mounts []Mount
	for _, v := range vols {
		dir := c.VolumePath(appName, v.Name)
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if err := os.Chown(dir, AppUID, AppGID); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
		mounts = append(mounts, Mount{Source: dir, Target: v.Path})
	}
	return mounts, nil
}

// memory is the memory limit for l, in bytes.
func (c *Containerd) memory(l app.Limits) int64 {
	if l.MemoryMiB > 0 {
		return int64(l.MemoryMiB) << 20
	}
	return c.cfg.MemoryLimit
}

// AppUID and AppGID own app files and volumes and run builds and app
// processes. The default base names them "app"; numeric IDs also work on
// imported bases without that user.
const (
	AppUID = 10001
	AppGID = 10001
)

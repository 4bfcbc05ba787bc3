package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"pier/app"
)

// VolumePath is the host directory of an app's named volume.
func (c *Containerd) VolumePath(appName, volume string) string {
	return filepath.Join(c.volumeDirs().Path(appName), volume)
}

// VolumeMounts creates the app's volume directories if missing, makes them
// uid's (and its group's) and returns their mounts.
func (c *Containerd) VolumeMounts(appName string, uid int, vols []app.Volume) ([]Mount, error) {
	return c.volumeMounts(appName, uid, uid, vols)
}

func (c *Containerd) volumeMounts(appName string, uid, gid int, vols []app.Volume) ([]Mount, error) {
	var mounts []Mount
	for _, v := range vols {
		dir := c.VolumePath(appName, v.Name)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if err := Own(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		mounts = append(mounts, Mount{Source: dir, Target: v.Path})
	}
	return mounts, nil
}

// Own makes dir and everything in it uid's and gid's, unless dir already
// is: a directory an app's process writes (a volume, a build cache)
// follows the app's user when it changes (apps made before each had its
// own kept the base's). Links are changed, never followed.
func Own(dir string, uid, gid int) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// imageUser is the user and group an image's config says its processes
// run as, when numeric (as pier's builds write it); the base's app user
// otherwise.
func imageUser(ctx context.Context, img containerd.Image) (uid, gid int) {
	desc, err := img.Config(ctx)
	if err != nil {
		return AppUID, AppGID
	}
	b, err := content.ReadBlob(ctx, img.ContentStore(), desc)
	if err != nil {
		return AppUID, AppGID
	}
	var cfg ocispec.Image
	if json.Unmarshal(b, &cfg) != nil {
		return AppUID, AppGID
	}
	u, g, _ := strings.Cut(cfg.Config.User, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil || uid <= 0 || gid <= 0 {
		return AppUID, AppGID
	}
	return uid, gid
}

// memory is the memory limit for l, in bytes.
func (c *Containerd) memory(l app.Limits) int64 {
	if l.MemoryMiB > 0 {
		return int64(l.MemoryMiB) << 20
	}
	return c.cfg.MemoryLimit
}

// AppUID and AppGID are the base's app user. Each app has a user of its
// own (app.App.UID), which its builds run as and write into its image; an
// image that names no numeric user, such as a release built before apps
// had their own, runs as this one.
const (
	AppUID = 10001
	AppGID = 10001
)

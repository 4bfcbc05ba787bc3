package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"

	"pier/runtime"
	"pier/scripts"
)

// DefaultBase is the reference of the default base image. Its tag names
// the recipe (scripts/mkbase.sh) it was built from, so a changed recipe
// makes a new base, built once, instead of an old one kept.
var DefaultBase = "pier/base:bookworm-" + recipeID

// recipeID is a short digest of the default base's recipe.
var recipeID = func() string {
	sum := sha256.Sum256([]byte(scripts.MkBase))
	return hex.EncodeToString(sum[:4])
}()

// BaseImageConfig is the default base's image config.
var BaseImageConfig = runtime.ImageConfig{
	Env:        RunEnv,
	User:       fmt.Sprintf("%d:%d", runtime.AppUID, runtime.AppGID),
	WorkingDir: "/app",
	Labels:     map[string]string{"pier.base": "bookworm"},
}

// BaseTarball is where the default base's OCI tarball is cached in cacheDir.
func BaseTarball(cacheDir string) string {
	goos, arch := runtime.Platform()
	return filepath.Join(cacheDir, fmt.Sprintf("base-bookworm-%s-%s-%s.oci.tar", recipeID, goos, arch))
}

// BuildBase runs script (the base recipe, bash) to make a root filesystem in
// a scratch directory next to tarball, and packs it as an OCI image tarball
// named ref at tarball. Progress goes to out.
func BuildBase(ctx context.Context, script, ref, tarball string, out io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(filepath.Dir(tarball), "rootfs-")
	if err != nil {
		return err
	}
	rootfs := filepath.Join(scratch, "rootfs")
	defer func() {
		// The recipe mounts proc in the chroot; never walk into it when cleaning up.
		unix.Unmount(filepath.Join(rootfs, "proc"), unix.MNT_DETACH)
		os.RemoveAll(scratch)
	}()
	cmd := exec.CommandContext(ctx, "bash", "-c", script, "mkbase", rootfs)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build base root filesystem: %w", err)
	}
	fmt.Fprintf(out, "-----> Packing %s\n", ref)
	f, err := renameio.NewPendingFile(tarball,
		renameio.WithTempDir(filepath.Dir(tarball)), renameio.WithPermissions(0o600))
	if err != nil {
		return err
	}
	defer f.Cleanup() // no-op after the rename
	if err := runtime.PackBase(ctx, rootfs, ref, BaseImageConfig, f); err != nil {
		return fmt.Errorf("pack base: %w", err)
	}
	return f.CloseAtomicallyReplace()
}

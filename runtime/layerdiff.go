package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/containerd/containerd/archive"
	"github.com/containerd/containerd/archive/compression"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/labels"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/continuity/fs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// errNotOverlay says a snapshot's mounts are not one overlay with an upper
// directory, so its layer can't be read from the upper directory alone.
var errNotOverlay = errors.New("not an overlay snapshot")

// overlayDirs returns the upper directory and the lower directories
// (uppermost first) of an active overlay snapshot's mounts.
func overlayDirs(mounts []mount.Mount) (upper string, lower []string, err error) {
	if len(mounts) != 1 || mounts[0].Type != "overlay" {
		return "", nil, errNotOverlay
	}
	for _, o := range mounts[0].Options {
		if v, ok := strings.CutPrefix(o, "upperdir="); ok {
			upper = v
		}
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			lower = strings.Split(v, ":")
		}
	}
	if upper == "" || len(lower) == 0 {
		return "", nil, errNotOverlay
	}
	return upper, lower, nil
}

// upperDiff writes the layer of the active overlay snapshot key into the
// content store, reading only what changed: the snapshot's upper directory,
// with overlay's whiteouts turned into the image format's. containerd's own
// differ walks the whole base next to it, which costs a second or so on the
// Debian base for an app of a few files. It returns the layer and its
// uncompressed digest (diffID).
func (c *Containerd) upperDiff(ctx context.Context, key string) (ocispec.Descriptor, digest.Digest, error) {
	mounts, err := c.client.SnapshotService(c.cfg.Snapshotter).Mounts(ctx, key)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	upper, lower, err := overlayDirs(mounts)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if len(lower) == 1 {
		return c.writeUpperDiff(ctx, key, lower[0], upper)
	}
	// Several lower layers: whether a path existed below is asked of
	// their union, mounted read-only.
	var desc ocispec.Descriptor
	var diffID digest.Digest
	base := []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + strings.Join(lower, ":")}}}
	err = mount.WithReadonlyTempMount(ctx, base, func(root string) error {
		var err error
		desc, diffID, err = c.writeUpperDiff(ctx, key, root, upper)
		return err
	})
	return desc, diffID, err
}

func (c *Containerd) writeUpperDiff(ctx context.Context, key, base, upper string) (ocispec.Descriptor, digest.Digest, error) {
	cs := c.client.ContentStore()
	ref := "pier-diff-" + key
	w, err := cs.Writer(ctx, content.WithRef(ref), content.WithDescriptor(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip}))
	if err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("open layer writer: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			w.Close()
			cs.Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	if err := w.Truncate(0); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	gz, err := compression.CompressStream(w, compression.Gzip)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	uncompressed := digest.SHA256.Digester()
	tw := archive.NewChangeWriter(io.MultiWriter(gz, uncompressed.Hash()), upper)
	if err := fs.DiffDirChanges(ctx, base, upper, fs.DiffSourceOverlayFS, tw.HandleChange); err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("read the layer's changes: %w", err)
	}
	if err := tw.Close(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if err := gz.Close(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	diffID := uncompressed.Digest()
	dgst := w.Digest()
	err = w.Commit(ctx, 0, dgst, content.WithLabels(map[string]string{labels.LabelUncompressed: diffID.String()}))
	committed = true
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, "", fmt.Errorf("commit layer: %w", err)
	}
	info, err := cs.Info(ctx, dgst)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if info.Labels[labels.LabelUncompressed] == "" {
		if info.Labels == nil {
			info.Labels = map[string]string{}
		}
		info.Labels[labels.LabelUncompressed] = diffID.String()
		if _, err := cs.Update(ctx, info, "labels."+labels.LabelUncompressed); err != nil {
			return ocispec.Descriptor{}, "", err
		}
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: dgst, Size: info.Size}, diffID, nil
}

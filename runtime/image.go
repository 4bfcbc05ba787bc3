package runtime

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/archive"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/platforms"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageConfig is what an image says about how its processes run.
type ImageConfig struct {
	Env        []string
	User       string
	WorkingDir string
	Labels     map[string]string
}

// PackBase writes rootfs as a single-layer OCI image tarball (an OCI layout in
// a tar) named ref to w.
func PackBase(ctx context.Context, rootfs, ref string, cfg ImageConfig, w io.Writer) error {
	layer, err := os.CreateTemp("", "pier-layer-*")
	if err != nil {
		return err
	}
	defer os.Remove(layer.Name())
	defer layer.Close()

	compressed := sha256.New()
	uncompressed := sha256.New()
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(layer, compressed), gzip.BestSpeed)
	if err := archive.WriteDiff(ctx, io.MultiWriter(gz, uncompressed), "", rootfs); err != nil {
		return fmt.Errorf("archive %s: %w", rootfs, err)
	}
	if err := gz.Close(); err != nil {
		return err
	}
	size, err := layer.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	layerDesc := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageLayerGzip,
		Digest:    digest.NewDigest(digest.SHA256, compressed),
		Size:      size,
	}
	diffID := digest.NewDigest(digest.SHA256, uncompressed)

	configJSON, configDesc, err := imageConfigBlob(cfg, []digest.Digest{diffID})
	if err != nil {
		return err
	}
	manifestJSON, manifestDesc, err := manifestBlob(configDesc, []ocispec.Descriptor{layerDesc}, nil)
	if err != nil {
		return err
	}
	manifestDesc.Annotations = map[string]string{
		images.AnnotationImageName: ref,
		ocispec.AnnotationRefName:  ref,
	}
	index, _ := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifestDesc},
	})

	tw := tar.NewWriter(w)
	file := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := file(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := file("index.json", index); err != nil {
		return err
	}
	if err := file(blobPath(configDesc.Digest), configJSON); err != nil {
		return err
	}
	if err := file(blobPath(manifestDesc.Digest), manifestJSON); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: blobPath(layerDesc.Digest), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := layer.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(tw, layer); err != nil {
		return err
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

func imageConfigBlob(cfg ImageConfig, diffIDs []digest.Digest) ([]byte, ocispec.Descriptor, error) {
	goos, arch := Platform()
	now := time.Now().UTC()
	img := ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{OS: goos, Architecture: arch},
		Config: ocispec.ImageConfig{
			Env: cfg.Env, User: cfg.User, WorkingDir: cfg.WorkingDir, Labels: cfg.Labels,
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	}
	b, err := json.Marshal(img)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(b), Size: int64(len(b))}, nil
}

func manifestBlob(config ocispec.Descriptor, layers []ocispec.Descriptor, annotations map[string]string) ([]byte, ocispec.Descriptor, error) {
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      config,
		Layers:      layers,
		Annotations: annotations,
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}, nil
}

// ImportBase imports an OCI image tarball (any image, e.g. one PackBase made)
// and unpacks it, so it can serve as a base. It returns the names imported.
func (c *Containerd) ImportBase(ctx context.Context, tarball string) ([]string, error) {
	ctx = c.ctx(ctx)
	f, err := os.Open(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	imgs, err := c.client.Import(ctx, f, containerd.WithImportPlatform(platforms.Default()))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", tarball, err)
	}
	var names []string
	for _, img := range imgs {
		if err := containerd.NewImage(c.client, img).Unpack(ctx, c.cfg.Snapshotter); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("import %s: the tarball names no image (index.json needs an %s annotation)", tarball, images.AnnotationImageName)
	}
	return names, nil
}

// HasImage reports whether an image of that name exists.
func (c *Containerd) HasImage(ctx context.Context, ref string) (bool, error) {
	_, err := c.client.ImageService().Get(c.ctx(ctx), ref)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// ImageSize is the unpacked size in bytes of an image's layers.
func (c *Containerd) ImageSize(ctx context.Context, ref string) (int64, error) {
	img, err := c.client.GetImage(c.ctx(ctx), ref)
	if err != nil {
		return 0, err
	}
	return img.Usage(c.ctx(ctx), containerd.WithSnapshotUsage())
}

// AppImagePrefix starts the name of every app image pier builds; no other
// image is ever removed by RemoveImage.
const AppImagePrefix = "pier/apps/"

// DepsImagePrefix starts the name of every dependency layer pier builds
// (an image of the base and an app's dependencies, which its app images are
// built on).
const DepsImagePrefix = "pier/deps/"

// DepsImage names app's dependency layer of that key.
func DepsImage(app, key string) string { return DepsImagePrefix + app + ":" + key }

// DepsImages lists app's dependency layers.
func (c *Containerd) DepsImages(ctx context.Context, app string) ([]string, error) {
	list, err := c.client.ImageService().List(c.ctx(ctx))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, img := range list {
		if strings.HasPrefix(img.Name, DepsImagePrefix+app+":") {
			names = append(names, img.Name)
		}
	}
	return names, nil
}

// PruneDepsImages removes app's dependency layers, except keep ("" for
// all). The app images built on one keep its layer's content.
func (c *Containerd) PruneDepsImages(ctx context.Context, app, keep string) error {
	names, err := c.DepsImages(ctx, app)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if name == keep {
			continue
		}
		err := c.client.ImageService().Delete(c.ctx(ctx), name, images.SynchronousDelete())
		if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveImage deletes an app image, and its static site's mount if it has
// one; containerd's garbage collector frees its layers and snapshots once
// nothing else references them. Unknown images are not an error; any other
// image (a base, an image a user imported) is refused.
func (c *Containerd) RemoveImage(ctx context.Context, ref string) error {
	if !strings.HasPrefix(ref, AppImagePrefix) {
		return fmt.Errorf("remove image %s: not an app image pier built", ref)
	}
	if err := c.UnmountSite(ctx, ref); err != nil {
		return err
	}
	err := c.client.ImageService().Delete(c.ctx(ctx), ref)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// baseLayers returns the manifest layers and diff IDs of an image.
func (c *Containerd) baseLayers(ctx context.Context, ref string) ([]ocispec.Descriptor, []digest.Digest, error) {
	img, err := c.client.ImageService().Get(ctx, ref)
	if errdefs.IsNotFound(err) {
		return nil, nil, fmt.Errorf("base image %s is not imported: run `pier base build`", ref)
	}
	if err != nil {
		return nil, nil, err
	}
	cs := c.client.ContentStore()
	m, err := images.Manifest(ctx, cs, img.Target, platforms.Default())
	if err != nil {
		return nil, nil, fmt.Errorf("base image %s: %w", ref, err)
	}
	diffIDs, err := img.RootFS(ctx, cs, platforms.Default())
	if err != nil {
		return nil, nil, fmt.Errorf("base image %s: %w", ref, err)
	}
	return m.Layers, diffIDs, nil
}

// createImage writes config and manifest for base layers + one new layer and
// records the image. The caller holds a lease; the GC labels written here keep
// the blobs and the committed snapshot once the lease ends.
func (c *Containerd) createImage(ctx context.Context, ref string, cfg ImageConfig, layers []ocispec.Descriptor, diffIDs []digest.Digest) error {
	cs := c.client.ContentStore()
	configJSON, configDesc, err := imageConfigBlob(cfg, diffIDs)
	if err != nil {
		return err
	}
	chain := identity.ChainID(diffIDs).String()
	if err := content.WriteBlob(ctx, cs, ref+"-config", bytes.NewReader(configJSON), configDesc,
		content.WithLabels(map[string]string{"containerd.io/gc.ref.snapshot." + c.cfg.Snapshotter: chain})); err != nil {
		return fmt.Errorf("write image config: %w", err)
	}
	manifestJSON, manifestDesc, err := manifestBlob(configDesc, layers, nil)
	if err != nil {
		return err
	}
	labels := map[string]string{"containerd.io/gc.ref.content.config": configDesc.Digest.String()}
	for i, l := range layers {
		labels[fmt.Sprintf("containerd.io/gc.ref.content.l.%d", i)] = l.Digest.String()
	}
	if err := content.WriteBlob(ctx, cs, ref+"-manifest", bytes.NewReader(manifestJSON), manifestDesc, content.WithLabels(labels)); err != nil {
		return fmt.Errorf("write image manifest: %w", err)
	}
	return c.saveImage(ctx, images.Image{Name: ref, Target: manifestDesc})
}

// saveImage creates the image record, or points an existing one of that
// name at img's target.
func (c *Containerd) saveImage(ctx context.Context, img images.Image) error {
	is := c.client.ImageService()
	if _, err := is.Create(ctx, img); err != nil {
		if !errdefs.IsAlreadyExists(err) {
			return fmt.Errorf("create image %s: %w", img.Name, err)
		}
		if _, err := is.Update(ctx, img); err != nil {
			return fmt.Errorf("update image %s: %w", img.Name, err)
		}
	}
	return nil
}

var errNoUncompressed = errors.New("layer has no uncompressed digest label")

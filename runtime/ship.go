package runtime

// Shipping an app image to another machine of the cluster. The sender lists
// the image (ImageManifest) and serves its blobs (OpenBlob); the receiver
// asks which blobs it lacks (MissingBlobs), takes each in (ReceiveBlob) and
// records and unpacks the image (ImportImage); PullImage does the
// receiver's part with a function that fetches one blob. Every machine has
// the base imported, so only an app's own layer, config and manifest move.
//
// The receiver trusts nothing in a listing: it takes app images only, with
// bounded sizes; each blob must hash to its digest in exactly its size; and
// the manifest's own bytes must say what the listing says before a layer is
// fetched and before the image is recorded.
//
// Blobs received before the image is recorded are held by a containerd
// lease named for the image's manifest, so that garbage collection cannot
// take them between requests; ImportImage ends it, or it expires after
// shipLeaseTTL (an abandoned shipment is then collected).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/leases"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"pier/app"
)

const (
	// MaxBlobSize bounds a layer a machine takes from another.
	MaxBlobSize = 2 << 30
	// maxMetaSize bounds a manifest or config, as registries bound manifests.
	maxMetaSize  = 4 << 20
	maxLayers    = 128
	shipLeaseTTL = time.Hour
)

// ErrImageRefused is what the receiving functions return (wrapped) when a
// listing or a blob's bytes are not acceptable: not an app image, sizes over
// the bounds, bytes that do not hash to the digest, a manifest that says
// otherwise than its listing. Sending the same again fails again.
var ErrImageRefused = errors.New("image refused")

// ImageManifest lists an image for shipping: its name, its target (the
// manifest's descriptor) and the config and layers the manifest names. It
// travels as JSON.
type ImageManifest struct {
	Name   string               `json:"name"`
	Target ocispec.Descriptor   `json:"target"`
	Config ocispec.Descriptor   `json:"config"`
	Layers []ocispec.Descriptor `json:"layers"`
}

// Blobs are every blob of the image, each once: the manifest first, then
// the config and the layers in order.
func (m ImageManifest) Blobs() []ocispec.Descriptor {
	all := append([]ocispec.Descriptor{m.Target, m.Config}, m.Layers...)
	seen := map[digest.Digest]bool{}
	var blobs []ocispec.Descriptor
	for _, d := range all {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			blobs = append(blobs, d)
		}
	}
	return blobs
}

// Size is the sum of the sizes of the image's Blobs.
func (m ImageManifest) Size() int64 {
	var n int64
	for _, d := range m.Blobs() {
		n += d.Size
	}
	return n
}

func (m ImageManifest) blob(dgst digest.Digest) (ocispec.Descriptor, bool) {
	for _, d := range m.Blobs() {
		if d.Digest == dgst {
			return d, true
		}
	}
	return ocispec.Descriptor{}, false
}

// check refuses a listing a receiver must not act on.
func (m ImageManifest) check() error {
	if !strings.HasPrefix(m.Name, AppImagePrefix) {
		return refuse(m, "not an app image")
	}
	if !images.IsManifestType(m.Target.MediaType) {
		return refuse(m, "its target is a %q, not a manifest", m.Target.MediaType)
	}
	if !images.IsConfigType(m.Config.MediaType) {
		return refuse(m, "its config is a %q", m.Config.MediaType)
	}
	if len(m.Layers) == 0 || len(m.Layers) > maxLayers {
		return refuse(m, "%d layers (1 to %d may be shipped)", len(m.Layers), maxLayers)
	}
	sizes := map[digest.Digest]int64{}
	for i, d := range append([]ocispec.Descriptor{m.Target, m.Config}, m.Layers...) {
		limit := int64(MaxBlobSize)
		if i < 2 {
			limit = maxMetaSize
		} else if !images.IsLayerType(d.MediaType) {
			return refuse(m, "layer %s is a %q", d.Digest, d.MediaType)
		}
		if err := d.Digest.Validate(); err != nil || d.Digest.Algorithm() != digest.SHA256 {
			return refuse(m, "blob %q: not a sha256 digest", d.Digest)
		}
		if d.Size <= 0 || d.Size > limit {
			return refuse(m, "blob %s has %d bytes (1 to %d may be shipped)", d.Digest, d.Size, limit)
		}
		if n, ok := sizes[d.Digest]; ok && n != d.Size {
			return refuse(m, "blob %s is listed with two sizes", d.Digest)
		}
		sizes[d.Digest] = d.Size
	}
	return nil
}

func refuse(m ImageManifest, format string, args ...any) error {
	return fmt.Errorf("ship %s: %s: %w", m.Name, fmt.Sprintf(format, args...), ErrImageRefused)
}

// ImageManifest lists image ref for shipping. Images whose target is an
// index (several platforms) cannot be listed; pier's are single manifests.
func (c *Containerd) ImageManifest(ctx context.Context, ref string) (ImageManifest, error) {
	ctx = c.ctx(ctx)
	img, err := c.client.ImageService().Get(ctx, ref)
	if errdefs.IsNotFound(err) {
		return ImageManifest{}, fmt.Errorf("image %s: %w", ref, app.ErrNotFound)
	}
	if err != nil {
		return ImageManifest{}, fmt.Errorf("image %s: %w", ref, err)
	}
	if !images.IsManifestType(img.Target.MediaType) || img.Target.Size > maxMetaSize {
		return ImageManifest{}, fmt.Errorf("image %s: its target, a %s of %d bytes, is no manifest that can be shipped", ref, img.Target.MediaType, img.Target.Size)
	}
	b, err := content.ReadBlob(ctx, c.client.ContentStore(), img.Target)
	if err != nil {
		return ImageManifest{}, fmt.Errorf("image %s: manifest: %w", ref, err)
	}
	var mf ocispec.Manifest
	if err := json.Unmarshal(b, &mf); err != nil {
		return ImageManifest{}, fmt.Errorf("image %s: manifest: %w", ref, err)
	}
	return ImageManifest{Name: ref, Target: img.Target, Config: mf.Config, Layers: mf.Layers}, nil
}

// OpenBlob opens blob dgst of image ref for sending and says its size; the
// caller closes it. Only the blobs of the image named are served, so that a
// handler built on it is no window onto the whole content store; an unknown
// image or blob is an app.ErrNotFound.
func (c *Containerd) OpenBlob(ctx context.Context, ref string, dgst digest.Digest) (io.ReadCloser, int64, error) {
	m, err := c.ImageManifest(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	d, ok := m.blob(dgst)
	if !ok {
		return nil, 0, fmt.Errorf("image %s has no blob %s: %w", ref, dgst, app.ErrNotFound)
	}
	ra, err := c.client.ContentStore().ReaderAt(c.ctx(ctx), d)
	if err != nil {
		return nil, 0, fmt.Errorf("open blob %s: %w", dgst, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(ra, 0, ra.Size()), ra}, ra.Size(), nil
}

// MissingBlobs returns the blobs of m this content store lacks, in Blobs'
// order, and holds those it has for the shipment (see the notes above).
func (c *Containerd) MissingBlobs(ctx context.Context, m ImageManifest) ([]ocispec.Descriptor, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	ctx, err := c.shipLease(ctx, m)
	if err != nil {
		return nil, err
	}
	id, _ := leases.FromContext(ctx)
	return c.hold(ctx, id, m.Blobs())
}

// hold adds blobs to lease id and returns those that are not there.
func (c *Containerd) hold(ctx context.Context, id string, blobs []ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	ls, cs := c.client.LeasesService(), c.client.ContentStore()
	var missing []ocispec.Descriptor
	for _, d := range blobs {
		// Leased before looking, so that the collector cannot take it in between.
		if err := ls.AddResource(ctx, leases.Lease{ID: id}, leases.Resource{ID: d.Digest.String(), Type: "content"}); err != nil {
			return nil, fmt.Errorf("lease blob %s: %w", d.Digest, err)
		}
		_, err := cs.Info(ctx, d.Digest)
		if errdefs.IsNotFound(err) {
			missing = append(missing, d)
		} else if err != nil {
			return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
		}
	}
	return missing, nil
}

// ReceiveBlob writes blob dgst of m, read from r, into the content store.
// It reads at most the blob's size and one byte more (to refuse a longer
// stream), and keeps the blob only if it hashes to its digest; a blob
// already there is not read at all. A blob m does not list is refused.
// Safe for concurrent use, also for the same blob.
func (c *Containerd) ReceiveBlob(ctx context.Context, m ImageManifest, dgst digest.Digest, r io.Reader) error {
	if err := m.check(); err != nil {
		return err
	}
	d, ok := m.blob(dgst)
	if !ok {
		return refuse(m, "it lists no blob %s", dgst)
	}
	ctx, err := c.shipLease(ctx, m)
	if err != nil {
		return err
	}
	return c.receive(ctx, m, d, r)
}

// receive is ReceiveBlob for a checked d, with ctx under the shipment's lease.
func (c *Containerd) receive(ctx context.Context, m ImageManifest, d ocispec.Descriptor, r io.Reader) error {
	cs := c.client.ContentStore()
	ref := "pier-ship-" + d.Digest.Encoded()
	w, err := content.OpenWriter(ctx, cs, content.WithRef(ref), content.WithDescriptor(d))
	if errdefs.IsAlreadyExists(err) {
		return nil // and leased: the content store adds it to ctx's lease
	}
	if err != nil {
		return fmt.Errorf("receive blob %s: %w", d.Digest, err)
	}
	done := false
	defer func() {
		w.Close()
		if !done {
			cs.Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	st, err := w.Status()
	if err == nil && st.Offset != 0 {
		// What an interrupted attempt left: r cannot be skipped ahead.
		err = w.Truncate(0)
	}
	if err != nil {
		return fmt.Errorf("receive blob %s: %w", d.Digest, err)
	}
	if n, err := io.CopyN(w, r, d.Size); err != nil {
		if errors.Is(err, io.EOF) {
			return refuse(m, "blob %s ended after %d of its %d bytes", d.Digest, n, d.Size)
		}
		return fmt.Errorf("receive blob %s: %w", d.Digest, err)
	}
	var extra [1]byte
	if n, _ := io.ReadFull(r, extra[:]); n > 0 {
		return refuse(m, "blob %s is longer than its %d bytes", d.Digest, d.Size)
	}
	if err := w.Commit(ctx, d.Size, d.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		if errdefs.IsFailedPrecondition(err) {
			return refuse(m, "blob %s: %v", d.Digest, err)
		}
		return fmt.Errorf("receive blob %s: %w", d.Digest, err)
	}
	done = true
	return nil
}

// ImportImage records image m once all its blobs are here, after checking
// its manifest against the listing, and unpacks it into pier's snapshotter
// so that it can run. An image of that name is pointed at m; importing the
// same m again changes nothing.
func (c *Containerd) ImportImage(ctx context.Context, m ImageManifest) error {
	if err := m.check(); err != nil {
		return err
	}
	// Unpacking makes snapshots that nothing references until the config's
	// label does (Unpack sets it); this lease holds them and the blobs.
	ctx, done, err := c.client.WithLease(c.ctx(ctx))
	if err != nil {
		return err
	}
	defer done(context.WithoutCancel(ctx))
	id, _ := leases.FromContext(ctx)
	missing, err := c.hold(ctx, id, m.Blobs())
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("import %s: %d of its %d blobs are missing, %s first", m.Name, len(missing), len(m.Blobs()), missing[0].Digest)
	}
	if err := c.checkManifest(ctx, m); err != nil {
		return err
	}
	// As containerd's import and createImage label a manifest: the image
	// keeps its config and layers.
	labels := map[string]string{"containerd.io/gc.ref.content.config": m.Config.Digest.String()}
	for i, l := range m.Layers {
		labels[fmt.Sprintf("containerd.io/gc.ref.content.l.%d", i)] = l.Digest.String()
	}
	var fields []string
	for k := range labels {
		fields = append(fields, "labels."+k)
	}
	if _, err := c.client.ContentStore().Update(ctx, content.Info{Digest: m.Target.Digest, Labels: labels}, fields...); err != nil {
		return fmt.Errorf("import %s: label manifest: %w", m.Name, err)
	}
	img := images.Image{Name: m.Name, Target: m.Target}
	if err := containerd.NewImage(c.client, img).Unpack(ctx, c.cfg.Snapshotter); err != nil {
		return fmt.Errorf("unpack %s: %w", m.Name, err)
	}
	if err := c.saveImage(ctx, img); err != nil {
		return err
	}
	err = c.client.LeasesService().Delete(ctx, leases.Lease{ID: shipLeaseID(m)})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("import %s: end the shipment's lease: %w", m.Name, err)
	}
	return nil
}

// checkManifest refuses m unless the manifest in the content store names
// exactly m's config and layers.
func (c *Containerd) checkManifest(ctx context.Context, m ImageManifest) error {
	b, err := content.ReadBlob(ctx, c.client.ContentStore(), m.Target)
	if err != nil {
		return fmt.Errorf("read manifest of %s: %w", m.Name, err)
	}
	var mf ocispec.Manifest
	if err := json.Unmarshal(b, &mf); err != nil {
		return refuse(m, "manifest: %v", err)
	}
	same := func(a, b ocispec.Descriptor) bool {
		return a.Digest == b.Digest && a.Size == b.Size && a.MediaType == b.MediaType
	}
	ok := (mf.MediaType == "" || mf.MediaType == m.Target.MediaType) &&
		same(mf.Config, m.Config) && len(mf.Layers) == len(m.Layers)
	for i := 0; ok && i < len(m.Layers); i++ {
		ok = same(mf.Layers[i], m.Layers[i])
	}
	if !ok {
		return refuse(m, "its manifest names other blobs than its listing")
	}
	return nil
}

// PullImage makes image m run here: it fetches the blobs this machine lacks,
// two at a time, with fetch (it returns the blob's bytes, which PullImage
// checks and closes), then imports it. The manifest is fetched first and alone,
// so that a listing its manifest contradicts costs no layer. It returns how
// many blobs and bytes were fetched; nothing is fetched for an image whose
// blobs are all here. Garbage collection takes no blob mid-pull; on an error
// no image is recorded, and the blobs that came stay held for a retry (see
// the notes above).
func (c *Containerd) PullImage(ctx context.Context, m ImageManifest, fetch func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)) (fetched int, bytes int64, err error) {
	missing, err := c.MissingBlobs(ctx, m)
	if err != nil {
		return 0, 0, err
	}
	var mu sync.Mutex
	get := func(ctx context.Context, d ocispec.Descriptor) error {
		rc, err := fetch(ctx, d)
		if err != nil {
			return fmt.Errorf("fetch blob %s of %s: %w", d.Digest, m.Name, err)
		}
		defer rc.Close()
		if err := c.receive(leases.WithLease(c.ctx(ctx), shipLeaseID(m)), m, d, rc); err != nil {
			return err
		}
		mu.Lock()
		fetched, bytes = fetched+1, bytes+d.Size
		mu.Unlock()
		return nil
	}
	if len(missing) > 0 && missing[0].Digest == m.Target.Digest {
		if err := get(ctx, missing[0]); err != nil {
			return fetched, bytes, err
		}
		missing = missing[1:]
	}
	if err := c.checkManifest(leases.WithLease(c.ctx(ctx), shipLeaseID(m)), m); err != nil {
		return fetched, bytes, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for _, d := range missing {
		g.Go(func() error { return get(gctx, d) })
	}
	if err := g.Wait(); err != nil {
		return fetched, bytes, err
	}
	return fetched, bytes, c.ImportImage(ctx, m)
}

// shipLease returns ctx (in pier's namespace) under the lease that holds
// m's blobs until ImportImage, creating it if need be.
func (c *Containerd) shipLease(ctx context.Context, m ImageManifest) (context.Context, error) {
	ctx = c.ctx(ctx)
	id := shipLeaseID(m)
	_, err := c.client.LeasesService().Create(ctx, leases.WithID(id), leases.WithExpiration(shipLeaseTTL))
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return nil, fmt.Errorf("lease for %s: %w", m.Name, err)
	}
	return leases.WithLease(ctx, id), nil
}

// shipLeaseID names m's lease for its manifest (76 characters at most, as
// containerd's identifiers).
func shipLeaseID(m ImageManifest) string { return "pier-ship-" + m.Target.Digest.Encoded() }

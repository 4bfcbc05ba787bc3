// Package ship moves app images between the machines of a cluster: a
// machine serves the images it has (Handler), and one that is to run an
// image it lacks fetches the blobs it is missing from a machine that has
// them (Fetcher), over the cluster's mutual TLS. The base image's layers,
// which every machine has, never travel.
package ship

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"pier/app"
	"pier/runtime"
)

// Images is this machine's image store (runtime.Containerd).
type Images interface {
	HasImage(ctx context.Context, ref string) (bool, error)
	ImageManifest(ctx context.Context, ref string) (runtime.ImageManifest, error)
	OpenBlob(ctx context.Context, ref string, dgst digest.Digest) (io.ReadCloser, int64, error)
	PullImage(ctx context.Context, m runtime.ImageManifest,
		fetch func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)) (int, int64, error)
}

// maxManifest bounds the listing read from another machine.
const maxManifest = 1 << 20

// Handler serves images' listings (GET /manifest?ref=) and their blobs
// (GET /blob?ref=&digest=), only of images by name: no window onto the
// whole content store. Mount it where only machines of the cluster reach.
func Handler(images Images) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /manifest", func(w http.ResponseWriter, r *http.Request) {
		m, err := images.ImageManifest(r.Context(), r.URL.Query().Get("ref"))
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m)
	})
	mux.HandleFunc("GET /blob", func(w http.ResponseWriter, r *http.Request) {
		dgst, err := digest.Parse(r.URL.Query().Get("digest"))
		if err != nil {
			http.Error(w, "bad digest", http.StatusBadRequest)
			return
		}
		rc, size, err := images.OpenBlob(r.Context(), r.URL.Query().Get("ref"), dgst)
		if err != nil {
			fail(w, err)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(size))
		io.Copy(w, rc)
	})
	return mux
}

func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, app.ErrNotFound) {
		status = http.StatusNotFound
	}
	http.Error(w, err.Error(), status)
}

// Fetcher brings images to this machine from others (node.Images).
type Fetcher struct {
	Images Images
	// Client reaches https://NODE/ on the machine named NODE, at the
	// prefix where Handler is served.
	Client *http.Client
	Prefix string // e.g. /cluster/v1/images
	// Others names every other machine of the cluster, tried after the
	// ones Fetch is given; nil tries those alone.
	Others func() []string
	Log    *slog.Logger

	mu       sync.Mutex
	inflight map[string]*call // by image: concurrent fetches of one image are one
}

type call struct {
	done chan struct{}
	err  error
}

// Fetch makes image present on this machine: at once if it is, else by
// fetching what this machine lacks of it from the first machine in from
// that has it.
func (f *Fetcher) Fetch(ctx context.Context, image string, from []string) error {
	if ok, err := f.Images.HasImage(ctx, image); err != nil || ok {
		return err
	}
	f.mu.Lock()
	if f.inflight == nil {
		f.inflight = map[string]*call{}
	}
	if c := f.inflight[image]; c != nil {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	f.inflight[image] = c
	f.mu.Unlock()
	c.err = f.fetch(ctx, image, from)
	f.mu.Lock()
	delete(f.inflight, image)
	f.mu.Unlock()
	close(c.done)
	return c.err
}

func (f *Fetcher) fetch(ctx context.Context, image string, from []string) error {
	if f.Others != nil {
		for _, n := range f.Others() {
			if !slices.Contains(from, n) {
				from = append(slices.Clip(from), n)
			}
		}
	}
	if len(from) == 0 {
		return fmt.Errorf("image %s is not on this machine, and no other machine runs it to fetch it from", image)
	}
	var errs []error
	for _, node := range from {
		start := time.Now()
		m, err := f.manifest(ctx, node, image)
		if err == nil {
			var n int
			var bytes int64
			n, bytes, err = f.Images.PullImage(ctx, m, func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
				return f.get(ctx, node, "/blob?ref="+url.QueryEscape(image)+"&digest="+url.QueryEscape(d.Digest.String()))
			})
			if err == nil {
				if f.Log != nil {
					f.Log.Info("fetched an image", "image", image, "from", node, "blobs", n, "bytes", bytes,
						"took", time.Since(start).Round(time.Millisecond))
				}
				return nil
			}
		}
		errs = append(errs, fmt.Errorf("from %s: %w", node, err))
	}
	return fmt.Errorf("fetch image %s: %w", image, errors.Join(errs...))
}

func (f *Fetcher) manifest(ctx context.Context, node, image string) (runtime.ImageManifest, error) {
	rc, err := f.get(ctx, node, "/manifest?ref="+url.QueryEscape(image))
	if err != nil {
		return runtime.ImageManifest{}, err
	}
	defer rc.Close()
	var m runtime.ImageManifest
	if err := json.NewDecoder(io.LimitReader(rc, maxManifest)).Decode(&m); err != nil {
		return runtime.ImageManifest{}, fmt.Errorf("listing of %s: %w", image, err)
	}
	if m.Name != image {
		return runtime.ImageManifest{}, fmt.Errorf("asked for %s, got the listing of %q", image, m.Name)
	}
	return m, nil
}

// get returns the body of a GET of path on node's images endpoint.
func (f *Fetcher) get(ctx context.Context, node, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+node+f.Prefix+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	return resp.Body, nil
}

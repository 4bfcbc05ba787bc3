package ship

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"pier/app"
	"pier/runtime"
)

// store is an image store in memory: its images' listings and blobs.
type store struct {
	mu     sync.Mutex
	images map[string]runtime.ImageManifest
	blobs  map[digest.Digest][]byte
	pulls  atomic.Int32
}

func newStore() *store {
	return &store{images: map[string]runtime.ImageManifest{}, blobs: map[digest.Digest][]byte{}}
}

func (s *store) add(ref string, layers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	desc := func(b string) ocispec.Descriptor {
		d := digest.FromString(b)
		s.blobs[d] = []byte(b)
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	m := runtime.ImageManifest{Name: ref, Target: desc("manifest of " + ref), Config: desc("config of " + ref)}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc(l))
	}
	s.images[ref] = m
}

func (s *store) HasImage(_ context.Context, ref string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.images[ref]
	return ok, nil
}

func (s *store) ImageManifest(_ context.Context, ref string) (runtime.ImageManifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.images[ref]
	if !ok {
		return m, fmt.Errorf("image %s: %w", ref, app.ErrNotFound)
	}
	return m, nil
}

func (s *store) OpenBlob(ctx context.Context, ref string, d digest.Digest) (io.ReadCloser, int64, error) {
	m, err := s.ImageManifest(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	for _, b := range m.Blobs() {
		if b.Digest == d {
			s.mu.Lock()
			defer s.mu.Unlock()
			return io.NopCloser(bytes.NewReader(s.blobs[d])), b.Size, nil
		}
	}
	return nil, 0, fmt.Errorf("no blob %s: %w", d, app.ErrNotFound)
}

// PullImage fetches the blobs this store lacks, as the runtime's does.
func (s *store) PullImage(ctx context.Context, m runtime.ImageManifest,
	fetch func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)) (int, int64, error) {
	s.pulls.Add(1)
	n, size := 0, int64(0)
	for _, d := range m.Blobs() {
		s.mu.Lock()
		_, have := s.blobs[d.Digest]
		s.mu.Unlock()
		if have {
			continue
		}
		rc, err := fetch(ctx, d)
		if err != nil {
			return n, size, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || digest.FromBytes(b) != d.Digest {
			return n, size, fmt.Errorf("blob %s: wrong bytes", d.Digest)
		}
		s.mu.Lock()
		s.blobs[d.Digest] = b
		s.mu.Unlock()
		n, size = n+1, size+d.Size
	}
	s.mu.Lock()
	s.images[m.Name] = m
	s.mu.Unlock()
	return n, size, nil
}

// machines routes https://NAME/... to the handler of the machine NAME.
type machines map[string]*httptest.Server

func (ms machines) RoundTrip(req *http.Request) (*http.Response, error) {
	srv, ok := ms[req.URL.Host]
	if !ok {
		return nil, fmt.Errorf("no machine %s", req.URL.Host)
	}
	u, _ := url.Parse(srv.URL)
	req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	return http.DefaultTransport.RoundTrip(req)
}

func serve(t *testing.T, s *store) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/images/", http.StripPrefix("/images", Handler(s)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// A machine fetches only what it lacks of an image, from the first
// machine that has it; fetches of one image at once are one.
func TestFetch(t *testing.T) {
	ctx := context.Background()
	builder, empty, here := newStore(), newStore(), newStore()
	builder.add("pier/apps/hello:1", "base layer", "app layer")
	here.blobs[digest.FromString("base layer")] = []byte("base layer")
	f := &Fetcher{Images: here, Prefix: "/images",
		Client: &http.Client{Transport: machines{"a": serve(t, empty), "b": serve(t, builder)}}}

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.Fetch(ctx, "pier/apps/hello:1", []string{"a", "b"})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := here.HasImage(ctx, "pier/apps/hello:1"); !ok {
		t.Fatal("the image did not arrive")
	}
	if n := here.pulls.Load(); n != 1 {
		t.Errorf("%d pulls for four fetches at once, want 1", n)
	}
	if err := f.Fetch(ctx, "pier/apps/hello:1", nil); err != nil {
		t.Errorf("fetch of an image here: %v", err)
	}

	err := f.Fetch(ctx, "pier/apps/other:1", []string{"a", "b"})
	if err == nil || !strings.Contains(err.Error(), "from a") || !strings.Contains(err.Error(), "404") {
		t.Errorf("fetch of an image no machine has: %v", err)
	}
	if err := f.Fetch(ctx, "pier/apps/other:1", nil); err == nil || !strings.Contains(err.Error(), "no other machine") {
		t.Errorf("fetch with nowhere to fetch from: %v", err)
	}
}

// The handler serves the blobs of the image named, and nothing else.
func TestHandlerServesTheImageNamedOnly(t *testing.T) {
	s := newStore()
	s.add("pier/apps/hello:1", "app layer")
	s.add("pier/apps/secret:1", "secret layer")
	srv := serve(t, s)
	secret := digest.FromString("secret layer")
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/images/blob?ref=pier/apps/hello:1&digest=" + digest.FromString("app layer").String(), 200},
		{"/images/blob?ref=pier/apps/hello:1&digest=" + secret.String(), 404},
		{"/images/blob?ref=pier/apps/hello:1&digest=not-a-digest", 400},
		{"/images/manifest?ref=pier/apps/none:1", 404},
		{"/images/manifest?ref=pier/apps/hello:1", 200},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

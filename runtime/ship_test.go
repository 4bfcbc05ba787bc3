package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/leases"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"pier/app"
	"pier/builder"
	"pier/runtime"
	"pier/runtime/runtimetest"
)

// commitApp commits an app layer holding /app/hello.txt on the base, as a
// build does, and returns the image's name.
func commitApp(t *testing.T, rt *runtime.Containerd, name, hello string) string {
	t.Helper()
	ctx := context.Background()
	ws, err := rt.Prepare(ctx, builder.DefaultBase, func(root string) error {
		if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, "app", "hello.txt"), []byte(hello), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := runtime.AppImagePrefix + name + ":1"
	if err := ws.Commit(ctx, ref, runtime.ImageConfig{WorkingDir: "/app", Labels: map[string]string{"pier.app": name}}); err != nil {
		t.Fatal(err)
	}
	return ref
}

// serveBlobs is the sending machine's end: GET /blob/<digest>?image=<ref>.
func serveBlobs(t *testing.T, rt *runtime.Containerd) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, size, err := rt.OpenBlob(r.Context(), r.URL.Query().Get("image"), digest.Digest(strings.TrimPrefix(r.URL.Path, "/blob/")))
		if errors.Is(err, app.ErrNotFound) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Length", fmt.Sprint(size))
		io.Copy(w, rc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fetchFrom is the receiving machine's fetch function, over HTTP.
func fetchFrom(srv *httptest.Server, ref string) func(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	return func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/blob/"+d.Digest.String()+"?image="+url.QueryEscape(ref), nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("GET blob: %s", resp.Status)
		}
		return resp.Body, nil
	}
}

// collect runs containerd's garbage collector on env's containerd and
// waits for it (a lease deleted synchronously).
func collect(t *testing.T, cl *containerd.Client) {
	t.Helper()
	ls := cl.LeasesService()
	l, err := ls.Create(context.Background(), leases.WithRandomID())
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.Delete(context.Background(), l, leases.SynchronousDelete); err != nil {
		t.Fatal(err)
	}
}

func client(t *testing.T, env *runtimetest.Env) *containerd.Client {
	cl, err := containerd.New(env.Address, containerd.WithDefaultNamespace(env.Namespace()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// An app image built on one machine runs on another after only its own
// blobs (manifest, config, app layer) moved over HTTP, not the base's;
// garbage collection mid-pull and after takes none of them; shipping again
// moves nothing; and the shipment's lease is gone.
func TestShipImage(t *testing.T) {
	env1, env2 := runtimetest.Start(t), runtimetest.Start(t)
	rt1, rt2 := env1.Runtime(t, ""), env2.Runtime(t, "")
	cl2 := client(t, env2)
	ctx := context.Background()
	ref := commitApp(t, rt1, "shipped", "hello from machine one\n")

	// The collector does run: an unreferenced blob is gone after collect.
	stray := []byte("stray")
	strayDesc := ocispec.Descriptor{Digest: digest.FromBytes(stray), Size: int64(len(stray))}
	if err := content.WriteBlob(ctx, cl2.ContentStore(), "stray", bytes.NewReader(stray), strayDesc); err != nil {
		t.Fatal(err)
	}
	collect(t, cl2)
	if _, err := cl2.ContentStore().Info(ctx, strayDesc.Digest); err == nil {
		t.Fatal("an unreferenced blob outlived the garbage collector")
	}

	listed, err := rt1.ImageManifest(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(listed) // as it travels
	var m runtime.ImageManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	appLayer := m.Layers[len(m.Layers)-1]
	own := map[digest.Digest]bool{m.Target.Digest: true, m.Config.Digest: true, appLayer.Digest: true}
	ownBytes := m.Target.Size + m.Config.Size + appLayer.Size

	srv := serveBlobs(t, rt1)
	var mu sync.Mutex
	var got []digest.Digest
	fetch := fetchFrom(srv, ref)
	start := time.Now()
	fetched, n, err := rt2.PullImage(ctx, m, func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
		mu.Lock()
		got = append(got, d.Digest)
		mu.Unlock()
		if d.Digest == appLayer.Digest {
			collect(t, cl2) // the manifest came already, unreferenced but for the lease
		}
		return fetch(ctx, d)
	})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shipped %s: %d of %d blobs, %d of %d bytes, in %v", ref, fetched, len(m.Blobs()), n, m.Size(), took.Round(time.Millisecond))
	if fetched != len(own) || n != ownBytes {
		t.Errorf("fetched %d blobs, %d bytes; want %d, %d (the app's own)", fetched, n, len(own), ownBytes)
	}
	for _, d := range got {
		if !own[d] {
			t.Errorf("fetched %s, a base blob", d)
		}
	}
	if got[0] != m.Target.Digest {
		t.Errorf("fetched %s first, want the manifest %s", got[0], m.Target.Digest)
	}

	collect(t, cl2)
	var out strings.Builder
	code, err := rt2.RunOnce(ctx, app.OneOff{App: "shipped", Image: ref, Command: "cat /app/hello.txt", Out: &out})
	if err != nil || code != 0 || out.String() != "hello from machine one\n" {
		t.Fatalf("run on machine two: exit %d, %v, output %q", code, err, out.String())
	}

	fetched, n, err = rt2.PullImage(ctx, m, func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
		t.Errorf("shipping again fetched %s", d.Digest)
		return fetch(ctx, d)
	})
	if err != nil || fetched != 0 || n != 0 {
		t.Errorf("shipping again: %d blobs, %d bytes, %v; want nothing fetched", fetched, n, err)
	}
	list, err := cl2.LeasesService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if strings.HasPrefix(l.ID, "pier-ship-") {
			t.Errorf("lease %s left after the shipment", l.ID)
		}
	}
}

// A receiver refuses what does not hash to its digest or has other than its
// size, a listing its manifest contradicts, sizes over the bound (before
// fetching anything), images that are not apps' and blobs the listing does
// not name; none of it leaves an image, and the genuine shipment then works.
func TestPullImageRefuses(t *testing.T) {
	env1, env2 := runtimetest.Start(t), runtimetest.Start(t)
	rt1, rt2 := env1.Runtime(t, ""), env2.Runtime(t, "")
	ctx := context.Background()
	ref := commitApp(t, rt1, "attacked", "genuine\n")
	other := commitApp(t, rt1, "other", "other\n")
	m, err := rt1.ImageManifest(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	om, err := rt1.ImageManifest(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveBlobs(t, rt1)
	genuine := fetchFrom(srv, ref)
	// mangled fetches the genuine bytes and returns what f makes of them.
	mangled := func(f func(d ocispec.Descriptor, b []byte) []byte) func(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
		return func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
			rc, err := genuine(ctx, d)
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(bytes.NewReader(f(d, b))), nil
		}
	}

	if err := rt2.ImportImage(ctx, m); err == nil {
		t.Error("ImportImage without the blobs succeeded")
	}
	if err := rt2.ReceiveBlob(ctx, m, om.Layers[len(om.Layers)-1].Digest, strings.NewReader("x")); !errors.Is(err, runtime.ErrImageRefused) {
		t.Errorf("a blob the listing does not name: %v, want ErrImageRefused", err)
	}

	huge := m
	huge.Layers = append([]ocispec.Descriptor{}, m.Layers...)
	huge.Layers[len(huge.Layers)-1].Size = 3 << 30
	lying := m
	lying.Layers = om.Layers // another app's layer
	base := m
	base.Name = builder.DefaultBase

	for _, tc := range []struct {
		name     string
		m        runtime.ImageManifest
		fetch    func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)
		noLayers bool // refused before any layer is fetched
	}{
		{"wrong bytes", m, mangled(func(_ ocispec.Descriptor, b []byte) []byte {
			b[len(b)/2] ^= 0xff
			return b
		}), true},
		{"one byte too many", m, mangled(func(_ ocispec.Descriptor, b []byte) []byte {
			return append(b, 'x')
		}), true},
		{"a megabyte too many", m, mangled(func(_ ocispec.Descriptor, b []byte) []byte {
			return append(b, make([]byte, 1<<20)...)
		}), true},
		{"too few bytes", m, mangled(func(_ ocispec.Descriptor, b []byte) []byte {
			return b[:len(b)-1]
		}), true},
		{"a corrupt layer after a genuine manifest and config", m, mangled(func(d ocispec.Descriptor, b []byte) []byte {
			if d.Digest == m.Layers[len(m.Layers)-1].Digest {
				b[len(b)-1] ^= 0xff
			}
			return b
		}), false},
		{"a listing its manifest contradicts", lying, genuine, true},
		{"a layer over the bound", huge, genuine, true},
		{"not an app image", base, genuine, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var layers atomic.Int32
			_, _, err := rt2.PullImage(ctx, tc.m, func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
				if d.Digest != tc.m.Target.Digest && d.Digest != tc.m.Config.Digest {
					layers.Add(1)
				}
				return tc.fetch(ctx, d)
			})
			if !errors.Is(err, runtime.ErrImageRefused) {
				t.Fatalf("PullImage: %v, want ErrImageRefused", err)
			}
			t.Logf("refused: %v", err)
			if n := layers.Load(); tc.noLayers && n > 0 {
				t.Errorf("%d layers fetched before the refusal", n)
			}
			if ok, err := rt2.HasImage(ctx, ref); ok || err != nil {
				t.Errorf("HasImage(%s) = %v, %v after a refused pull", ref, ok, err)
			}
		})
	}
	if ok, _ := rt2.HasImage(ctx, builder.DefaultBase); !ok {
		t.Fatal("the base is gone")
	}

	fetched, n, err := rt2.PullImage(ctx, m, genuine)
	if err != nil {
		t.Fatalf("the genuine pull after the refused ones: %v", err)
	}
	t.Logf("genuine pull after the refused ones: %d blobs, %d bytes", fetched, n)
	var out strings.Builder
	if code, err := rt2.RunOnce(ctx, app.OneOff{App: "attacked", Image: ref, Command: "cat /app/hello.txt", Out: &out}); err != nil || code != 0 || out.String() != "genuine\n" {
		t.Fatalf("run: exit %d, %v, output %q", code, err, out.String())
	}
}

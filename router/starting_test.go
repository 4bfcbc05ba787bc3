package router

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// While pier starts, a request for an app whose routes are not set yet
// waits for them: it gets the app, not the "No app here" page. Once the
// table is whole, an unknown host is answered at once.
func TestStartingWaitsForRoutes(t *testing.T) {
	r := newRouter(t)
	ready := r.Starting()
	front := serve(t, r)
	get := func(host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+front+"/", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	addr := namedBackend(t, "hello")
	r.Set("hello", nil) // known, its instances not found yet
	go func() {
		time.Sleep(300 * time.Millisecond)
		r.Set("hello", []string{addr})
	}()
	if code, body := get("hello.localhost"); code != 200 || body != "hello" {
		t.Fatalf("while starting: %d %q, want 200 from the app", code, body)
	}

	// An unknown host waits until the table is whole, then gets its 404.
	go func() {
		time.Sleep(200 * time.Millisecond)
		ready()
	}()
	start := time.Now()
	if code, _ := get("nope.localhost"); code != http.StatusNotFound {
		t.Fatalf("unknown host: %d, want 404", code)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("unknown host answered after %v, before the table was whole", waited)
	}
	ready()
	start = time.Now()
	if code, _ := get("nope.localhost"); code != http.StatusNotFound || time.Since(start) > time.Second {
		t.Fatalf("once started, unknown host: %d after %v, want 404 at once", code, time.Since(start))
	}
}

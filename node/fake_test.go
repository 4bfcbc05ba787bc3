package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/app"
	"pier/router"
	"pier/store"
)

// fakeRuntime is the OS boundary for in-process tests: no containers, but
// every web instance is a real HTTP server on loopback, so the real router
// health-checks, proxies to and drains it. An image's behaviour is chosen
// by its name: "bad" answers 500, "dies" exits right after it starts,
// "crashes" answers at once and exits 100ms later, "slow" takes half a
// second per request; anything else answers "<image> <instance>". A
// one-off "sleep D" takes D.
type fakeRuntime struct {
	mu        sync.Mutex
	instances map[string]*fakeInstance
	starts    int
	oneOffs   []string
}

type fakeInstance struct {
	in  app.Instance
	srv *httptest.Server
}

func newFakeRuntime() *fakeRuntime { return &fakeRuntime{instances: map[string]*fakeInstance{}} }

func (f *fakeRuntime) Start(ctx context.Context, in app.Instance) (app.Instance, error) {
	in.Running = true
	fi := &fakeInstance{in: in}
	if in.Process == "web" {
		image, id := in.Image, in.ID
		fi.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch image {
			case "bad":
				http.Error(w, "broken", 500)
				return
			case "slow":
				time.Sleep(500 * time.Millisecond)
			}
			fmt.Fprintf(w, "%s %s", image, id)
		}))
		fi.in.Addr = strings.TrimPrefix(fi.srv.URL, "http://")
		if image == "dies" { // nothing listens: the process is gone
			fi.srv.Close()
		}
	}
	if in.Image == "dies" {
		fi.in.Running = false
	}
	if in.Image == "crashes" {
		time.AfterFunc(100*time.Millisecond, func() { f.kill(in.ID) })
	}
	f.mu.Lock()
	f.instances[in.ID] = fi
	f.starts++
	f.mu.Unlock()
	return fi.in, nil
}

func (f *fakeRuntime) Stop(ctx context.Context, id string) error {
	f.mu.Lock()
	fi := f.instances[id]
	delete(f.instances, id)
	f.mu.Unlock()
	if fi != nil && fi.srv != nil {
		fi.srv.Close()
	}
	return nil
}

func (f *fakeRuntime) Instances(ctx context.Context) ([]app.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []app.Instance
	for _, fi := range f.instances {
		out = append(out, fi.in)
	}
	return out, nil
}

func (f *fakeRuntime) AppInstances(ctx context.Context, name string) ([]app.Instance, error) {
	all, _ := f.Instances(ctx)
	var out []app.Instance
	for _, in := range all {
		if in.App == name {
			out = append(out, in)
		}
	}
	return out, nil
}

func (f *fakeRuntime) set(id string, change func(*app.Instance)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi := f.instances[id]
	if fi == nil {
		return fmt.Errorf("no instance %s", id)
	}
	change(&fi.in)
	return nil
}

func (f *fakeRuntime) Pause(ctx context.Context, id string) error {
	return f.set(id, func(in *app.Instance) { in.Paused = true })
}

func (f *fakeRuntime) Resume(ctx context.Context, id string) error {
	return f.set(id, func(in *app.Instance) { in.Paused = false })
}

// kill makes an instance's process die, as a crash would.
func (f *fakeRuntime) kill(id string) { f.set(id, func(in *app.Instance) { in.Running = false }) }

func (f *fakeRuntime) Running(ctx context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi := f.instances[id]
	return fi != nil && fi.in.Running, nil
}

func (f *fakeRuntime) Tail(app, id string, n int) []string                 { return []string{"last words of " + id} }
func (f *fakeRuntime) RemoveImage(ctx context.Context, image string) error { return nil }

func (f *fakeRuntime) RunOnce(ctx context.Context, o app.OneOff) (int, error) {
	f.mu.Lock()
	f.oneOffs = append(f.oneOffs, o.Command)
	f.mu.Unlock()
	fmt.Fprintf(o.Out, "ran %s\n", o.Command)
	if d, ok := strings.CutPrefix(o.Command, "sleep "); ok {
		if d, err := time.ParseDuration(d); err == nil {
			time.Sleep(d)
		}
	}
	if o.Command == "block" { // runs until cancelled
		<-ctx.Done()
		return -1, ctx.Err()
	}
	if strings.HasPrefix(o.Command, "fail") {
		return 1, nil
	}
	return 0, nil
}

// running lists the app's instances whose process is alive, as
// "process image" strings, sorted.
func (f *fakeRuntime) running(name string) []string {
	ins, _ := f.AppInstances(context.Background(), name)
	var out []string
	for _, in := range ins {
		if in.Running {
			out = append(out, in.Process+" "+in.Image)
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// rig is an actuator over a real store and a real router, with the fake
// runtime underneath, and the router serving on loopback.
type rig struct {
	t     *testing.T
	ctx   context.Context
	store *store.Store
	rt    *fakeRuntime
	rtr   *router.Router
	act   *Actuator
	url   string // the router's address
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rtr := router.New(router.Config{Log: log, WakeTimeout: 5 * time.Second})
	srv := httptest.NewServer(rtr)
	t.Cleanup(srv.Close)
	r := &rig{t: t, ctx: ctx, store: st, rt: newFakeRuntime(), rtr: rtr, url: srv.URL}
	r.act = New(Settings{Drain: 20 * time.Millisecond, MaxDrain: 5 * time.Second, ReadyTimeout: 3 * time.Second},
		Deps{Store: st, Runtime: r.rt, Routes: rtr, Health: rtr, Activity: rtr, Log: log})
	rtr.OnWake(r.act.Wake)
	t.Cleanup(func() {
		all, _ := r.rt.Instances(context.Background())
		for _, in := range all {
			r.rt.Stop(context.Background(), in.ID)
		}
	})
	return r
}

// watch runs the actuator's watch loop until the test ends.
func (r *rig) watch() {
	run := r.act.Watch(r.ctx)
	go run()
}

func (r *rig) apply(c app.Change) {
	r.t.Helper()
	if err := r.store.Apply(r.ctx, c); err != nil {
		r.t.Fatalf("apply %T: %v", c, err)
	}
}

// create records an app.
func (r *rig) create(name string) {
	r.apply(app.CreateApp{App: app.App{Name: name, CreatedAt: time.Now()}})
}

// release is version v of app name running image with a web process.
func release(name string, v int, image string) app.Release {
	return app.Release{App: name, Version: v, Image: image, Processes: map[string]string{"web": "serve"},
		Description: fmt.Sprintf("deploy %d", v), CreatedAt: time.Now()}
}

// deploy activates rel as the use-cases do: recorded once healthy.
func (r *rig) deploy(rel app.Release) error {
	a, err := r.store.App(r.ctx, rel.App)
	if err != nil {
		return err
	}
	defer r.act.Lock(rel.App)()
	return r.act.Activate(r.ctx, a, rel, app.Activation{Record: func(ctx context.Context) error {
		return r.store.Apply(ctx, app.PutRelease{Release: rel})
	}})
}

// get sends a request for app name through the router.
func (r *rig) get(name string) (int, string) {
	r.t.Helper()
	return r.getHost(name + ".localhost")
}

// getHost sends a request for host through the router.
func (r *rig) getHost(host string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.url+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually waits up to 5 s for cond.
func (r *rig) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

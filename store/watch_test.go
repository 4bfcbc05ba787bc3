package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"pier/app"
)

// Every committed change reaches every watcher once, in index order, with
// the index stored in the database; a failed change reaches none.
func TestWatchSeesAppliedChanges(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w1, w2 := s.Watch(ctx), s.Watch(ctx)

	changes := []app.Change{
		app.CreateApp{App: app.App{Name: "hello", CreatedAt: time.Now()}},
		app.SetConfig{App: "hello", Config: map[string]string{"A": "1"}},
		app.SetStopped{App: "nope", Stopped: true}, // fails: no such app
		app.AddDomain{App: "hello", Domain: "www.example.com"},
	}
	for _, c := range changes {
		err := s.Apply(ctx, c)
		if _, bad := c.(app.SetStopped); bad != (err != nil) {
			t.Fatalf("Apply(%T) = %v", c, err)
		}
	}
	for name, w := range map[string]<-chan app.Applied{"first": w1, "second": w2} {
		var got []string
		for i := 0; i < 3; i++ {
			select {
			case a := <-w:
				got = append(got, fmt.Sprintf("%d %T", a.Index, a.Change))
			case <-time.After(5 * time.Second):
				t.Fatalf("%s watcher: got %q, then nothing", name, got)
			}
		}
		want := []string{"1 app.CreateApp", "2 app.SetConfig", "3 app.AddDomain"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s watcher: got %q, want %q", name, got, want)
		}
	}
	if i, err := s.AppliedIndex(ctx); err != nil || i != 3 {
		t.Errorf("AppliedIndex = %d, %v; want 3", i, err)
	}
	cancel()
	if _, ok := <-w1; ok {
		t.Error("a watch goes on after its context ended")
	}
}

// The applied index survives a reopen, and changes applied by two writers
// at once get distinct indexes seen in order.
func TestAppliedIndexIsDurableAndOrdered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.Watch(wctx)
	errs := make(chan error)
	for i := 0; i < 20; i++ {
		go func() {
			errs <- s.Apply(ctx, app.CreateApp{App: app.App{Name: fmt.Sprintf("app%d", i), CreatedAt: time.Now()}})
		}()
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for want := uint64(1); want <= 20; want++ {
		if a := <-w; a.Index != want {
			t.Fatalf("got index %d, want %d", a.Index, want)
		}
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if i, err := s.AppliedIndex(ctx); err != nil || i != 20 {
		t.Errorf("after reopen AppliedIndex = %d, %v; want 20", i, err)
	}
}

// A watcher that does not read is never waited for: past the backlog bound
// it is handed one Resync in place of what it missed.
func TestSlowWatcherGetsResync(t *testing.T) {
	var f feed
	w := &watcher{wake: make(chan struct{}, 1)}
	f.watchers = map[*watcher]bool{w: true}
	for i := 0; i < maxBacklog+10; i++ { // never blocks
		f.publish(app.Applied{Index: uint64(1 + i), Change: app.SetStopped{App: "hello"}})
	}
	got := w.take()
	if len(got) != 1 {
		t.Fatalf("got %d changes, want one Resync", len(got))
	}
	if _, ok := got[0].Change.(app.Resync); !ok || got[0].Index != maxBacklog+10 {
		t.Errorf("got %d %T, want a Resync at index %d", got[0].Index, got[0].Change, maxBacklog+10)
	}
	f.publish(app.Applied{Index: maxBacklog + 11, Change: app.SetStopped{App: "hello"}})
	if got := w.take(); len(got) != 1 || got[0].Index != maxBacklog+11 {
		t.Errorf("after the Resync got %v, want the next change", got)
	}
}

// A join token is used once: a second use, or an unknown token, is refused.
func TestJoinTokenUsedOnce(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	tok := app.JoinToken{ID: "ab12", SecretHash: []byte{1, 2}, Role: "worker", Expires: time.Now().Add(time.Hour).UTC().Round(0)}
	if err := s.Apply(ctx, app.AddJoinToken{Token: tok}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.JoinToken(ctx, "ab12"); err != nil || got.Role != "worker" || got.Used || !got.Expires.Equal(tok.Expires) {
		t.Fatalf("JoinToken = %+v, %v", got, err)
	}
	if err := s.Apply(ctx, app.UseJoinToken{ID: "ab12"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, app.UseJoinToken{ID: "ab12"}); !errors.Is(err, app.ErrExists) {
		t.Errorf("second use: got %v, want ErrExists", err)
	}
	if err := s.Apply(ctx, app.UseJoinToken{ID: "nope"}); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("unknown token: got %v, want ErrNotFound", err)
	}
}

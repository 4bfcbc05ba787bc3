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

// ApplyAt applies each log entry once: an entry at or below the applied
// index is skipped, across a reopen too, and a refused change records
// nothing.
func TestApplyAtIsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string) app.Change { return app.CreateApp{App: app.App{Name: name, CreatedAt: t0}} }
	steps := []struct {
		index   uint64
		change  app.Change
		applied bool
		err     error
	}{
		{3, create("first"), true, nil},
		{3, create("again"), false, nil},
		{2, create("older"), false, nil},
		{5, create("first"), false, app.ErrExists},
		{7, app.SetConfig{App: "first", Config: map[string]string{"A": "1"}}, true, nil},
	}
	for _, st := range steps {
		applied, err := s.ApplyAt(ctx, st.index, st.change)
		if applied != st.applied || !errors.Is(err, st.err) {
			t.Errorf("ApplyAt(%d, %T) = %v, %v; want %v, %v", st.index, st.change, applied, err, st.applied, st.err)
		}
	}
	if i, err := s.AppliedIndex(ctx); i != 7 || err != nil {
		t.Errorf("AppliedIndex = %d, %v; want 7", i, err)
	}
	s.Close()

	// A restart replays the log from its last snapshot.
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.Watch(wctx)
	for _, st := range steps {
		if applied, err := s.ApplyAt(ctx, st.index, st.change); applied || err != nil {
			t.Errorf("replayed ApplyAt(%d, %T) = %v, %v; want skipped", st.index, st.change, applied, err)
		}
	}
	if applied, err := s.ApplyAt(ctx, 9, app.SetStopped{App: "first", Stopped: true}); !applied || err != nil {
		t.Fatalf("ApplyAt(9) = %v, %v; want applied", applied, err)
	}
	select {
	case a := <-w:
		if got := fmt.Sprintf("%d %T", a.Index, a.Change); got != "9 app.SetStopped" {
			t.Errorf("watch got %q, want %q", got, "9 app.SetStopped")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch saw nothing")
	}
	apps, err := s.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Config["A"] != "1" || !apps[0].Stopped {
		t.Errorf("Apps = %+v, %v; want first only, configured and stopped", apps, err)
	}
}

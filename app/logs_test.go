package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// storeWith knows one app; its other methods are not called.
type storeWith struct {
	Store
	app string
}

func (s storeWith) App(_ context.Context, name string) (App, error) {
	if name != s.app {
		return App{}, fmt.Errorf("app %s: %w", name, ErrNotFound)
	}
	return App{Name: name}, nil
}

type logSource struct{ got []LogQuery }

func (l *logSource) Logs(_ context.Context, app string, q LogQuery, w io.Writer) error {
	l.got = append(l.got, q)
	fmt.Fprintf(w, "lines of %s\n", app)
	return nil
}

func TestServiceLogs(t *testing.T) {
	src := &logSource{}
	s := New(Settings{}, Deps{Store: storeWith{app: "hello"}, Logs: src})
	ctx := context.Background()
	var out bytes.Buffer
	q := LogQuery{Process: "web", Lines: 5, Follow: true}
	if err := s.Logs(ctx, "hello", q, &out); err != nil || out.String() != "lines of hello\n" || src.got[0] != q {
		t.Fatalf("Logs: %v, wrote %q, source got %+v", err, out.String(), src.got)
	}
	tests := []struct {
		name, app string
		q         LogQuery
		notFound  bool
	}{
		{"unknown app", "nope", LogQuery{}, true},
		{"bad name", "../x", LogQuery{}, false},
		{"bad process", "hello", LogQuery{Process: "Web"}, false},
	}
	for _, tt := range tests {
		err := s.Logs(ctx, tt.app, tt.q, &out)
		if err == nil || errors.Is(err, ErrNotFound) != tt.notFound {
			t.Errorf("%s: got %v, want an error (not found: %v)", tt.name, err, tt.notFound)
		}
	}
	if len(src.got) != 1 {
		t.Errorf("source called %d times, want once", len(src.got))
	}
	if err := New(Settings{}, Deps{Store: storeWith{app: "hello"}}).Logs(ctx, "hello", q, &out); err == nil {
		t.Error("Logs without a LogSource succeeded")
	}
}

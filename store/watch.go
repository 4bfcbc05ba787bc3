package store

import (
	"context"
	"sync"

	"pier/app"
)

// maxBacklog bounds the changes kept for one watcher that does not keep
// up; past it the watcher is sent one app.Resync instead of what it missed.
const maxBacklog = 4096

// Watch returns the changes Apply commits from now on, in the order of
// their indexes, until ctx ends; then the channel is closed. A watcher that
// falls more than maxBacklog changes behind receives a single app.Resync
// (with the index of the last change it missed) in their place and must
// read the desired state again. Apply never waits for a watcher.
func (s *Store) Watch(ctx context.Context) <-chan app.Applied { return s.feed.watch(ctx) }

// feed fans applied changes out to watchers.
type feed struct {
	mu       sync.Mutex
	watchers map[*watcher]bool
}

type watcher struct {
	mu      sync.Mutex
	backlog []app.Applied
	lagged  bool // backlog overflowed: send a Resync
	wake    chan struct{}
}

func (f *feed) watch(ctx context.Context) <-chan app.Applied {
	w := &watcher{wake: make(chan struct{}, 1)}
	f.mu.Lock()
	if f.watchers == nil {
		f.watchers = map[*watcher]bool{}
	}
	f.watchers[w] = true
	f.mu.Unlock()
	out := make(chan app.Applied)
	go func() {
		defer close(out)
		defer func() {
			f.mu.Lock()
			delete(f.watchers, w)
			f.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			}
			for _, c := range w.take() {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// take empties w's backlog.
func (w *watcher) take() []app.Applied {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := w.backlog
	if w.lagged {
		cs = []app.Applied{{Index: cs[len(cs)-1].Index, Change: app.Resync{}}}
	}
	w.backlog, w.lagged = nil, false
	return cs
}

func (f *feed) publish(c app.Applied) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.watchers {
		w.mu.Lock()
		if len(w.backlog) >= maxBacklog {
			w.lagged = true
			w.backlog = w.backlog[len(w.backlog)-1:]
		}
		w.backlog = append(w.backlog, c)
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

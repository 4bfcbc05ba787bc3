package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"pier/app"
)

// Vacate takes an app off this machine at once, for a destroy or a
// rename: its route goes, every instance is stopped without draining, its
// sites are unmounted and its crash record forgotten. The caller holds the
// app's lock.
func (n *Actuator) Vacate(ctx context.Context, name string) { n.halt(ctx, name) }

// Restore starts an app again after a rename (under the new name, or the
// old one if the rename failed). The caller holds the app's lock.
func (n *Actuator) Restore(ctx context.Context, name string) error { return n.Converge(ctx, name) }

func (n *Actuator) halt(ctx context.Context, name string) {
	n.routes.Delete(name)
	var wg sync.WaitGroup
	for _, in := range n.Instances(ctx, name) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.stop(in.ID)
		}()
	}
	wg.Wait()
	n.removeSites(ctx, name)
	n.clearCrashes(name)
}

// Retire stops an app for ps:stop: the route serves nothing from now on,
// and every instance is stopped once its in-flight requests finished;
// sites are unmounted once drained. The caller holds the app's lock.
func (n *Actuator) Retire(ctx context.Context, name string) {
	n.routes.Set(name, nil)
	n.routes.SetAsleep(name, false)
	old := n.Instances(ctx, name)
	n.retireSitesLater(name, func(app.Site) bool { return true })
	n.retire(old)
}

// locked validates name, takes the app's lock and loads the app. On success
// the caller must call unlock.
func (n *Actuator) locked(ctx context.Context, name string) (a app.App, unlock func(), err error) {
	if err := app.ValidName(name); err != nil {
		return app.App{}, nil, err
	}
	unlock = n.Lock(name)
	a, err = n.store.App(ctx, name)
	if errors.Is(err, app.ErrNotFound) {
		err = fmt.Errorf("app %q does not exist: %w", name, err)
	}
	if err != nil {
		unlock()
		return app.App{}, nil, err
	}
	return a, unlock, nil
}

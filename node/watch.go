package node

import (
	"context"
	"errors"
	"sync"

	"pier/app"
)

// Watch subscribes the actuator to the changes the store applies from now
// on and returns the loop that reacts to them, which runs until ctx ends.
// Subscribe before anything can make changes (main does so before serving);
// a change applied by any writer then converges this machine:
//
//   - domains, access rules and a new release's app.json reach the router
//     before Sync returns;
//   - a new release, formation or ps:stop/start converges the app's
//     instances (in the background, under the app's lock, so after the
//     use-case that made the change let go of it);
//   - a destroyed or renamed app loses its routes, processes, sites and
//     this node's state under its old name;
//   - a Resync (the watch fell behind) reconciles every app.
//
// Reacting is idempotent: a change the use-case already carried out here
// finds nothing left to do.
func (n *Actuator) Watch(ctx context.Context) (run func()) {
	changes := n.store.Watch(ctx)
	index, err := n.store.AppliedIndex(ctx)
	if err != nil {
		n.log.Warn("read applied index", "err", err)
	}
	n.watch.start(index)
	return func() {
		defer n.watch.stop()
		for c := range changes {
			n.react(ctx, c)
			n.watch.done(c.Index)
		}
	}
}

// Sync returns once the actuator has reacted (as far as Watch says it does
// before Sync returns) to every change applied so far, or ctx ends. It
// returns at once while no Watch runs.
func (n *Actuator) Sync(ctx context.Context) error {
	index, err := n.store.AppliedIndex(ctx)
	if err != nil {
		return err
	}
	return n.watch.wait(ctx, index)
}

func (n *Actuator) react(ctx context.Context, c app.Applied) {
	switch c := c.Change.(type) {
	case app.AddDomain:
		n.publish(ctx, c.App)
	case app.RemoveDomain:
		n.publish(ctx, c.App)
	case app.SetAccess:
		n.publish(ctx, c.App)
	case app.SetAppCert:
		n.publishCert(ctx, c.App)
	case app.PutRelease: // app.json's access rules may have changed
		n.publish(ctx, c.Release.App)
		n.convergeLater(ctx, c.Release.App)
	case app.SetFormation:
		n.convergeLater(ctx, c.App)
	case app.SetPlacement:
		n.convergeLater(ctx, c.App)
	case app.RestartApp:
		n.convergeLater(ctx, c.App)
	case app.SetSleepState:
		if c.State != app.Awake {
			n.sleepLater(ctx, c.App, c.State)
		}
	case app.SetStopped:
		n.convergeLater(ctx, c.App)
	case app.DestroyApp:
		n.routes.SetCertificate(c.Name, app.AppCert{})
		n.routes.SetDomains(c.Name, nil)
		n.routes.SetAccess(c.Name, app.AccessRules{})
		n.forget(c.Name, "")
		n.convergeLater(ctx, c.Name)
	case app.RenameApp:
		n.routes.SetCertificate(c.From, app.AppCert{})
		n.routes.SetDomains(c.From, nil)
		n.routes.SetAccess(c.From, app.AccessRules{})
		n.publish(ctx, c.To)
		n.forget(c.From, c.To)
		n.convergeLater(ctx, c.From)
		n.convergeLater(ctx, c.To)
	case app.Resync:
		apps, err := n.store.Apps(ctx)
		if err != nil {
			n.log.Warn("resync", "err", err)
			return
		}
		known := map[string]bool{}
		for _, a := range apps {
			known[a.Name] = true
			n.publishApp(ctx, a)
		}
		// Apps the new state lacks (it came whole: a machine joined or
		// left a cluster) answer no more.
		for _, name := range n.routes.Routed() {
			if !known[name] {
				n.routes.SetAccess(name, app.AccessRules{})
				n.routes.Delete(name)
			}
		}
		go func() {
			if err := n.reconcile(ctx, modeStartup); err != nil && ctx.Err() == nil {
				n.log.Warn("resync", "err", err)
			}
		}()
	}
}

// forget drops this node's state of an app that is gone, or hands it to
// its new name.
func (n *Actuator) forget(name, renamedTo string) {
	n.mu.Lock()
	if t, ok := n.awake[name]; ok && renamedTo != "" {
		n.awake[renamedTo] = t
	}
	delete(n.awake, name)
	n.mu.Unlock()
	n.clearCrashes(name)
}

// convergeLater converges an app in the background, under its lock; calls
// for an app already waiting for its turn are one.
func (n *Actuator) convergeLater(ctx context.Context, name string) {
	n.mu.Lock()
	if n.watch.pending == nil {
		n.watch.pending = map[string]bool{}
	}
	if n.watch.pending[name] {
		n.mu.Unlock()
		return
	}
	n.watch.pending[name] = true
	n.mu.Unlock()
	go func() {
		unlock := n.Lock(name)
		defer unlock()
		n.mu.Lock()
		delete(n.watch.pending, name)
		n.mu.Unlock()
		a, err := n.store.App(ctx, name)
		switch {
		case errors.Is(err, app.ErrNotFound):
			n.halt(ctx, name)
		case err != nil:
			n.log.Warn("converge", "app", name, "err", err)
		case a.Release > 0:
			if err := n.converge(ctx, a, modeUser); err != nil && ctx.Err() == nil {
				n.log.Warn("converge", "app", name, "err", err)
			}
		}
	}()
}

// watchState is how far the watch loop got, for Sync.
type watchState struct {
	pending map[string]bool // apps waiting for convergeLater; guarded by Actuator.mu

	mu        sync.Mutex
	running   bool
	processed uint64
	changed   chan struct{} // closed and replaced when processed grows or the loop ends
}

func (w *watchState) start(index uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running, w.processed, w.changed = true, index, make(chan struct{})
}

func (w *watchState) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running = false
	close(w.changed)
}

func (w *watchState) done(index uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if index > w.processed {
		w.processed = index
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

func (w *watchState) wait(ctx context.Context, index uint64) error {
	for {
		w.mu.Lock()
		running, processed, changed := w.running, w.processed, w.changed
		w.mu.Unlock()
		if !running || processed >= index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

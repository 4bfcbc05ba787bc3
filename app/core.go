package app

import (
	"context"
	"errors"
	"log/slog"
)

// core is what every use-case type shares: the store it records changes
// in, the node whose app lock it holds and which it waits for, and the
// settings. It holds no state of its own.
type core struct {
	store Store
	node  Node
	log   *slog.Logger
	set   Settings
}

func newCore(set Settings, d Deps) core {
	set.defaults()
	return core{store: d.Store, node: d.Node, log: d.Log, set: set}
}

// lock serializes work on one app (pushes, restarts) and returns the unlock.
func (s *core) lock(app string) func() { return s.node.Lock(app) }

// apply records a change and waits until the node reacted to it as far as
// routing goes (see node.Actuator.Watch), so a command's effect is visible
// when it returns.
func (s *core) apply(ctx context.Context, c Change) error {
	if err := s.store.Apply(ctx, c); err != nil {
		return err
	}
	if s.node == nil {
		return nil
	}
	if err := s.node.Sync(ctx); err != nil {
		s.log.Warn("wait for the node", "err", err)
	}
	return nil
}

// locked validates name, takes the app's lock and loads the app. On success
// the caller must call unlock.
func (s *core) locked(ctx context.Context, name string) (a App, unlock func(), err error) {
	if err := ValidName(name); err != nil {
		return App{}, nil, err
	}
	unlock = s.lock(name)
	if a, err = s.load(ctx, name); err != nil {
		unlock()
		return App{}, nil, err
	}
	return a, unlock, nil
}

// load reads an app, saying plainly when it does not exist.
func (s *core) load(ctx context.Context, name string) (App, error) {
	a, err := s.store.App(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return App{}, NotFoundf("app %q does not exist", name)
	}
	return a, err
}

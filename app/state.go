package app

import "context"

// Change is one change to desired state. Every change pier makes passes
// through Service.apply as one of these values, so that a replicated log can
// later carry them without touching the callers.
type Change interface{ isChange() }

// CreateApp records a new app. ErrExists if the name is taken.
type CreateApp struct{ App App }

// PutRelease records a release and makes it the app's current one.
type PutRelease struct{ Release Release }

// AddKey records an SSH key. ErrExists if the name or key is taken.
type AddKey struct{ Key Key }

// RemoveKey deletes the SSH key with this name. ErrNotFound if none.
type RemoveKey struct{ Name string }

func (CreateApp) isChange()  {}
func (PutRelease) isChange() {}
func (AddKey) isChange()     {}
func (RemoveKey) isChange()  {}

// apply is the single place desired state changes.
func (s *Service) apply(ctx context.Context, c Change) error {
	return s.store.Apply(ctx, c)
}

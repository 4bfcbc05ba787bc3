package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Release returns one release of an app.
func (s *Service) Release(ctx context.Context, name string, version int) (Release, error) {
	if _, err := s.App(ctx, name); err != nil {
		return Release{}, err
	}
	r, err := s.store.Release(ctx, name, version)
	if errors.Is(err, ErrNotFound) {
		return Release{}, NotFoundf("%s has no release v%d (pier keeps the last %d)", name, version, s.set.KeepReleases)
	}
	return r, err
}

// Rollback makes a new release that runs the code and config of an earlier
// one, with zero downtime and no rebuild: its image is still there.
func (s *Service) Rollback(ctx context.Context, name string, version int, user string, out io.Writer) (Release, error) {
	if out == nil {
		out = io.Discard
	}
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return Release{}, err
	}
	defer unlock()
	target, err := s.store.Release(ctx, name, version)
	if errors.Is(err, ErrNotFound) {
		return Release{}, NotFoundf("%s has no release v%d (pier keeps the last %d; see releases %s)",
			name, version, s.set.KeepReleases, name)
	}
	if err != nil {
		return Release{}, err
	}
	next, err := s.nextVersion(ctx, name)
	if err != nil {
		return Release{}, err
	}
	rel := target
	rel.Version, rel.CreatedBy, rel.CreatedAt = next, user, time.Now().UTC()
	rel.Description = fmt.Sprintf("rollback to v%d", version)
	if target.Description != "" {
		fmt.Fprintf(out, "-----> Rolling %s back to v%d (%s)\n", name, version, target.Description)
	} else {
		fmt.Fprintf(out, "-----> Rolling %s back to v%d\n", name, version)
	}
	if err := s.activate(ctx, a, rel, true, out); err != nil {
		return Release{}, err
	}
	fmt.Fprintf(out, "-----> Released v%d of %s: the code and config of v%d\n", rel.Version, name, version)
	return rel, nil
}

// collectGarbage forgets releases beyond the newest KeepReleases and removes
// the app images no kept release uses. Only the app's own images are ever
// removed (never a base). Errors are logged: a later release retries.
func (s *Service) collectGarbage(ctx context.Context, name string) {
	rs, err := s.store.Releases(ctx, name)
	if err != nil || len(rs) <= s.set.KeepReleases {
		return
	}
	keep, drop := rs[:s.set.KeepReleases], rs[s.set.KeepReleases:]
	inUse := map[string]bool{}
	for _, r := range keep {
		inUse[r.Image] = true
	}
	var versions []int
	for _, r := range drop {
		versions = append(versions, r.Version)
	}
	if err := s.apply(ctx, DeleteReleases{App: name, Versions: versions}); err != nil {
		s.log.Warn("forget old releases", "app", name, "err", err)
		return
	}
	for _, r := range drop {
		if !inUse[r.Image] {
			inUse[r.Image] = true // remove each image once
			s.removeImage(r.Image)
		}
	}
}

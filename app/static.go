package app

import (
	"context"
	"fmt"
	"time"
)

// A static site is a release with no web process whose build found an
// index.html (Release.Static): the router serves the files of its image,
// mounted read-only on the host by Sites, and no container runs for web.
// It never sleeps: there is nothing to freeze. Other process types of its
// Procfile, cron entries and the release phase run in containers as for
// any app.

// errStaticScale is what scaling web of a static site says.
func errStaticScale(name string, rel Release) error {
	return fmt.Errorf("%s v%d is a static site: the router serves its files from %s and no web process runs, so there is nothing to scale (a Procfile with a web: line makes it an app with a web process)",
		name, rel.Version, rel.Static)
}

// mountSite makes rel's files available to the router and returns the
// directory to route to.
func (s *Service) mountSite(ctx context.Context, rel Release) (string, error) {
	if s.sites == nil {
		return "", fmt.Errorf("v%d is a static site, and this pier has nothing to serve its files with", rel.Version)
	}
	dir, err := s.sites.MountSite(ctx, rel.App, rel.Image, rel.Static)
	if err != nil {
		return "", fmt.Errorf("serve the files of v%d: %w", rel.Version, err)
	}
	return dir, nil
}

// sitesOf lists app's mounted sites that match keep.
func (s *Service) sitesOf(ctx context.Context, app string, keep func(Site) bool) []Site {
	if s.sites == nil {
		return nil
	}
	all, err := s.sites.Sites(ctx)
	if err != nil {
		s.log.Warn("list sites", "app", app, "err", err)
		return nil
	}
	var out []Site
	for _, st := range all {
		if st.App == app && keep(st) {
			out = append(out, st)
		}
	}
	return out
}

// otherThan is a filter for sitesOf: the sites rel does not serve (all of
// them if rel is no static site).
func otherThan(rel Release) func(Site) bool {
	return func(st Site) bool { return rel.Static == "" || st.Image != rel.Image }
}

// retireSitesLater retires, in the background, the sites of app that keep
// selects (see retireSites). Listing them is left to the background too, so
// that a wake or a deploy does not wait for it.
func (s *Service) retireSitesLater(app string, keep func(Site) bool) {
	if s.sites == nil {
		return
	}
	go func() { s.retireSites(app, s.sitesOf(context.Background(), app, keep)) }()
}

// retireSites waits until no request is in flight to old sites (up to the
// drain limit), then unmounts each one the app's current release does not
// serve by then: a rollback may have made one current again meanwhile. It
// takes the app's lock, so the caller must not hold it: run it in a
// goroutine.
func (s *Service) retireSites(app string, old []Site) {
	if len(old) == 0 {
		return
	}
	time.Sleep(s.set.Drain)
	for _, st := range old {
		ctx, cancel := context.WithTimeout(context.Background(), s.set.MaxDrain)
		s.routes.Drain(ctx, st.Dir)
		cancel()
	}
	unlock := s.lock(app)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var current Release
	if a, err := s.store.App(ctx, app); err == nil && a.Release > 0 && !a.Stopped {
		current, _ = s.store.Release(ctx, app, a.Release)
	}
	for _, st := range old {
		if current.Static != "" && current.Image == st.Image {
			continue
		}
		if err := s.sites.UnmountSite(ctx, st.Image); err != nil {
			s.log.Warn("unmount site", "app", app, "image", st.Image, "err", err)
		}
	}
}

// removeSites unmounts every site of app at once. The caller holds the
// app's lock and has routed the app away from them.
func (s *Service) removeSites(ctx context.Context, app string) {
	for _, st := range s.sitesOf(ctx, app, func(Site) bool { return true }) {
		if err := s.sites.UnmountSite(ctx, st.Image); err != nil {
			s.log.Warn("unmount site", "app", app, "image", st.Image, "err", err)
		}
	}
}

// removeOrphanSites unmounts the sites of apps that no longer exist (a
// destroy cut off by a crash). For daemon start.
func (s *Service) removeOrphanSites(ctx context.Context, known map[string]bool) {
	if s.sites == nil {
		return
	}
	all, err := s.sites.Sites(ctx)
	if err != nil {
		s.log.Warn("list sites", "err", err)
		return
	}
	for _, st := range all {
		if !known[st.App] {
			if err := s.sites.UnmountSite(ctx, st.Image); err != nil {
				s.log.Warn("unmount site", "app", st.App, "image", st.Image, "err", err)
			}
		}
	}
}

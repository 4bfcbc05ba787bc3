package node

import (
	"context"
	"fmt"
	"pier/app"
	"time"
)

// A static site is a release with no web process whose build found an
// index.html (app.Release.Static): the router serves the files of its image,
// mounted read-only on the host by Sites, and no container runs for web.
// It never sleeps: there is nothing to freeze. Other process types of its
// Procfile, cron entries and the release phase run in containers as for
// any app.

// mountSite makes rel's files available to the router and returns the
// directory to route to.
func (n *Actuator) mountSite(ctx context.Context, rel app.Release) (string, error) {
	if n.sites == nil {
		return "", fmt.Errorf("v%d is a static site, and this pier has nothing to serve its files with", rel.Version)
	}
	dir, err := n.sites.MountSite(ctx, rel.App, rel.Image, rel.Static)
	if err != nil {
		return "", fmt.Errorf("serve the files of v%d: %w", rel.Version, err)
	}
	return dir, nil
}

// sitesOf lists app's mounted sites that match keep.
func (n *Actuator) sitesOf(ctx context.Context, appName string, keep func(app.Site) bool) []app.Site {
	if n.sites == nil {
		return nil
	}
	all, err := n.sites.Sites(ctx)
	if err != nil {
		n.log.Warn("list sites", "app", appName, "err", err)
		return nil
	}
	var out []app.Site
	for _, st := range all {
		if st.App == appName && keep(st) {
			out = append(out, st)
		}
	}
	return out
}

// otherThan is a filter for sitesOf: the sites rel does not serve (all of
// them if rel is no static site).
func otherThan(rel app.Release) func(app.Site) bool {
	return func(st app.Site) bool { return rel.Static == "" || st.Image != rel.Image }
}

// retireSitesLater retires, in the background, the sites of app that keep
// selects (see retireSites). Listing them is left to the background too, so
// that a wake or a deploy does not wait for it.
func (n *Actuator) retireSitesLater(appName string, keep func(app.Site) bool) {
	if n.sites == nil {
		return
	}
	go func() { n.retireSites(appName, n.sitesOf(context.Background(), appName, keep)) }()
}

// retireSites waits until no request is in flight to old sites (up to the
// drain limit), then unmounts each one the app's current release does not
// serve by then: a rollback may have made one current again meanwhile. It
// takes the app's lock, so the caller must not hold it: run it in a
// goroutine.
func (n *Actuator) retireSites(appName string, old []app.Site) {
	if len(old) == 0 {
		return
	}
	time.Sleep(n.set.Drain)
	for _, st := range old {
		ctx, cancel := context.WithTimeout(context.Background(), n.set.MaxDrain)
		n.routes.Drain(ctx, st.Dir)
		cancel()
	}
	unlock := n.Lock(appName)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var current app.Release
	if a, err := n.store.App(ctx, appName); err == nil && a.Release > 0 && !a.Stopped {
		current, _ = n.store.Release(ctx, appName, a.Release)
	}
	for _, st := range old {
		if current.Static != "" && current.Image == st.Image {
			continue
		}
		if err := n.sites.UnmountSite(ctx, st.Image); err != nil {
			n.log.Warn("unmount site", "app", appName, "image", st.Image, "err", err)
		}
	}
}

// removeSites unmounts every site of an app at once. The caller holds the
// app's lock and has routed the app away from them.
func (n *Actuator) removeSites(ctx context.Context, appName string) {
	for _, st := range n.sitesOf(ctx, appName, func(app.Site) bool { return true }) {
		if err := n.sites.UnmountSite(ctx, st.Image); err != nil {
			n.log.Warn("unmount site", "app", appName, "image", st.Image, "err", err)
		}
	}
}

// removeOrphanSites unmounts the sites of apps that no longer exist (a
// destroy cut off by a crash). For daemon start.
func (n *Actuator) removeOrphanSites(ctx context.Context, known map[string]bool) {
	if n.sites == nil {
		return
	}
	all, err := n.sites.Sites(ctx)
	if err != nil {
		n.log.Warn("list sites", "err", err)
		return
	}
	for _, st := range all {
		if !known[st.App] {
			if err := n.sites.UnmountSite(ctx, st.Image); err != nil {
				n.log.Warn("unmount site", "app", st.App, "image", st.Image, "err", err)
			}
		}
	}
}

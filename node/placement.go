package node

import (
	"context"
	"time"

	"pier/app"
)

// What a machine of a cluster does for an app placed on several, or on
// others: its share of the instances, routes to the machines that serve
// it, images from them, and hand-overs when the app moves.

// routeWeb routes an app's web traffic to web, its instances running
// here; with none here, to the other machines of the cluster its web
// process runs on, if any.
//
// An app placed here that no other machine of its placement serves yet
// (it is moving here) is routed to whichever machines of the cluster
// still serve it, until its instances here are up.
func (n *Actuator) routeWeb(ctx context.Context, a app.App, rel app.Release, web []app.Instance) {
	if addrs := webAddrs(web); len(addrs) > 0 {
		n.routes.Set(a.Name, addrs)
		return
	}
	self := n.set.Self()
	var others []string
	if self != "" {
		want := app.FormationFor(a, rel)["web"]
		for _, m := range a.Placement {
			if m != self && app.Share(want, a.Placement, m) > 0 {
				others = append(others, m)
			}
		}
	}
	if len(others) > 0 {
		n.routes.SetRemote(a.Name, others)
		return
	}
	if self != "" && n.peers != nil && !a.Stopped && rel.Processes["web"] != "" && app.FormationFor(a, rel)["web"] > 0 {
		if serving := n.peers.Serving(ctx, a.Name, nil); len(serving) > 0 {
			n.routes.SetRemote(a.Name, serving)
			return
		}
	}
	n.routes.Set(a.Name, nil)
}

// haveImage makes sure rel's image is on this machine, fetching it from
// the other machines the app is placed on if it is not.
func (n *Actuator) haveImage(ctx context.Context, a app.App, rel app.Release) error {
	if n.images == nil {
		return nil
	}
	var from []string
	for _, m := range a.Placement {
		if m != n.set.Self() {
			from = append(from, m)
		}
	}
	return n.images.Fetch(ctx, rel.Image, from)
}

// runsElsewhere routes an app placed on other machines to them, then
// retires what of it runs here (the release it ran before it moved).
//
// An app moved by a placement alone (not by a deploy, which starts it
// where it goes before recording it) goes on being served here until one
// of the machines it moved to serves it, for up to moveTimeout.
func (n *Actuator) runsElsewhere(ctx context.Context, a app.App, nodes []string) {
	var here []app.Instance
	for _, in := range n.instancesOf(ctx, a.Name, func(app.Instance) bool { return true }) {
		if !n.isRetiring(in.ID) {
			here = append(here, in)
		}
	}
	if len(webAddrs(here)) > 0 && n.peers != nil && len(n.peers.Serving(ctx, a.Name, nodes)) == 0 {
		n.mu.Lock()
		moving := n.moving[a.Name]
		n.moving[a.Name] = true
		n.mu.Unlock()
		if !moving {
			n.log.Info("moves to other machines: serving here until they do", "app", a.Name, "nodes", nodes)
			go n.handOver(context.WithoutCancel(ctx), a.Name, nodes)
		}
		return
	}
	n.routes.SetRemote(a.Name, nodes)
	n.retireSitesLater(a.Name, func(app.Site) bool { return true })
	if len(here) > 0 {
		n.log.Info("runs on other machines: retiring its instances here", "app", a.Name, "nodes", nodes, "instances", len(here))
		go n.retire(here)
	}
}

// moveTimeout bounds how long an app that moved goes on being served here
// while the machines it moved to do not serve it.
const moveTimeout = 2 * time.Minute

// handOver waits until one of nodes serves app, then converges it here
// again: routed there, its instances here retired.
func (n *Actuator) handOver(ctx context.Context, name string, nodes []string) {
	defer func() {
		n.mu.Lock()
		delete(n.moving, name)
		n.mu.Unlock()
	}()
	deadline := time.Now().Add(moveTimeout)
	for len(n.peers.Serving(ctx, name, nodes)) == 0 && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	unlock := n.Lock(name)
	defer unlock()
	a, err := n.store.App(ctx, name)
	if err != nil {
		return
	}
	if nodes := app.PlacedElsewhere(a, n.set.Self()); nodes != nil {
		n.routes.SetRemote(a.Name, nodes)
		n.retireSitesLater(a.Name, func(app.Site) bool { return true })
		var here []app.Instance
		for _, in := range n.instancesOf(ctx, a.Name, func(app.Instance) bool { return true }) {
			if !n.isRetiring(in.ID) {
				here = append(here, in)
			}
		}
		n.log.Info("runs on other machines: retiring its instances here", "app", a.Name, "nodes", nodes, "instances", len(here))
		go n.retire(here)
	}
}

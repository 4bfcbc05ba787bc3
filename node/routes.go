package node

import (
	"context"
	"errors"
	"slices"

	"pier/app"
)

// publish passes an app's domains and access rules on to the router. An
// app that is gone loses them.
func (n *Actuator) publish(ctx context.Context, name string) {
	a, err := n.store.App(ctx, name)
	if errors.Is(err, app.ErrNotFound) {
		n.routes.SetDomains(name, nil)
		n.routes.SetAccess(name, app.AccessRules{})
		return
	}
	if err != nil {
		n.log.Warn("routing rules not updated", "app", name, "err", err)
		return
	}
	n.publishApp(ctx, a)
}

func (n *Actuator) publishApp(ctx context.Context, a app.App) {
	n.routes.SetDomains(a.Name, a.Domains)
	n.routes.SetAccess(a.Name, n.accessRules(ctx, a))
	n.publishCert(ctx, a.Name)
}

// publishCert hands the router the certificate app's owner brought.
func (n *Actuator) publishCert(ctx context.Context, name string) {
	c, _, err := n.store.AppCert(ctx, name)
	if err != nil {
		n.log.Warn("read certificate", "app", name, "err", err)
		return
	}
	if err := n.routes.SetCertificate(name, c); err != nil {
		n.log.Warn("certificate not served", "app", name, "err", err)
	}
}

// accessRules combines an app's rules with its current release's app.json.
func (n *Actuator) accessRules(ctx context.Context, a app.App) app.AccessRules {
	r := app.AccessRules{Auth: a.Access.Auth, Users: a.Access.Users}
	allow := slices.Clone(a.Access.Allow)
	if a.Release > 0 {
		rel, err := n.store.Release(ctx, a.Name, a.Release)
		if err != nil {
			n.log.Warn("read release for access rules", "app", a.Name, "err", err)
		} else if m := rel.Manifest.Pier.Access; m != nil && app.ManifestAccessApplies(a) {
			allow = append(allow, m.Allow...)
		}
	}
	for _, s := range allow {
		p, err := app.ParsePrefix(s)
		if err != nil {
			n.log.Warn("allowed network left out", "app", a.Name, "network", s, "err", err)
			continue
		}
		if !slices.Contains(r.Allow, p) {
			r.Allow = append(r.Allow, p)
		}
	}
	return r
}

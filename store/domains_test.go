package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"pier/app"
)

func TestDomains(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustApply(t, s,
		app.CreateApp{App: app.App{Name: "hello", CreatedAt: t0}},
		app.CreateApp{App: app.App{Name: "other", CreatedAt: t0}},
		app.AddDomain{App: "hello", Domain: "www.example.com"},
		app.AddDomain{App: "hello", Domain: "example.com"},
	)
	a, _ := s.App(ctx, "hello")
	if want := []string{"example.com", "www.example.com"}; !slices.Equal(a.Domains, want) {
		t.Fatalf("domains %q, want %q", a.Domains, want)
	}
	if o, _ := s.App(ctx, "other"); o.Domains != nil {
		t.Fatalf("an app without domains has %q", o.Domains)
	}
	if err := s.Apply(ctx, app.AddDomain{App: "other", Domain: "example.com"}); !errors.Is(err, app.ErrExists) {
		t.Fatalf("adding another app's domain: %v, want ErrExists", err)
	}
	if err := s.Apply(ctx, app.AddDomain{App: "nope", Domain: "nope.example.com"}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("a domain for a missing app: %v, want ErrNotFound", err)
	}
	if err := s.Apply(ctx, app.RemoveDomain{App: "other", Domain: "example.com"}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("removing another app's domain: %v, want ErrNotFound", err)
	}
	mustApply(t, s, app.RemoveDomain{App: "hello", Domain: "example.com"})
	if a, _ := s.App(ctx, "hello"); !slices.Equal(a.Domains, []string{"www.example.com"}) {
		t.Fatalf("after remove: %q", a.Domains)
	}
	mustApply(t, s, app.DestroyApp{Name: "hello"}, app.AddDomain{App: "other", Domain: "www.example.com"})
	if apps, _ := s.Apps(ctx); len(apps) != 1 || !slices.Equal(apps[0].Domains, []string{"www.example.com"}) {
		t.Fatalf("a destroyed app's domain is free again: %+v", apps)
	}
}

func TestAccessRules(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	acc := app.Access{Auth: true, Users: map[string]string{"alice": "$2a$10$hash"}, Allow: []string{"10.0.0.0/8"}}
	mustApply(t, s, app.CreateApp{App: app.App{Name: "hello", CreatedAt: t0}}, app.SetAccess{App: "hello", Access: acc})
	a, _ := s.App(ctx, "hello")
	if !a.Access.Auth || a.Access.Users["alice"] != "$2a$10$hash" || !slices.Equal(a.Access.Allow, acc.Allow) {
		t.Fatalf("got %+v, want %+v", a.Access, acc)
	}
	if err := s.Apply(ctx, app.SetAccess{App: "nope", Access: acc}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("access rules of a missing app: %v", err)
	}
}

package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// Access is an app's access rules as the http-auth commands set them.
type Access struct {
	// Auth requires HTTP basic auth with one of Users (http-auth:enable).
	Auth bool `json:"auth,omitempty"`
	// Users maps a user name to the bcrypt hash of its password.
	Users map[string]string `json:"users,omitempty"`
	// Allow lists client networks (CIDR prefixes, masked) let in without
	// credentials; when Auth is off, only they are let in.
	Allow []string `json:"allow,omitempty"`
}

// AccessSettings are app.json's pier.access.
type AccessSettings struct {
	// Allow lists client networks let in, as Access.Allow.
	Allow []string `json:"allow,omitempty"`
}

// AccessRules are what the router enforces for an app: the commands'
// rules, with app.json's allowed networks added.
//
// A request is let in when the rules are empty; when the client's address
// (the TCP peer's, never a header) is in Allow; or when Auth is on and its
// basic auth credentials match one of Users. Otherwise it gets 401 if Auth
// is on (credentials may help) and 403 if not.
type AccessRules struct {
	Auth  bool
	Users map[string]string // user -> bcrypt hash
	Allow []netip.Prefix
}

// Open reports whether the rules let everyone in.
func (r AccessRules) Open() bool { return !r.Auth && len(r.Allow) == 0 }

// ParsePrefix reads a network, "10.0.0.0/8", or one address, "192.0.2.7"
// or "2001:db8::1" (a /32 or /128), and returns it masked.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid network %.60q: want an address or CIDR like 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %.60q: want an address or CIDR like 10.0.0.0/8", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validUser checks an HTTP basic auth user name.
func validUser(u string) error {
	if u == "" || len(u) > 64 {
		return errors.New("a user name has 1 to 64 characters")
	}
	for _, r := range u {
		if r == ':' || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("invalid user name %.64q: no colons, spaces or control characters", u)
		}
	}
	return nil
}

// SetHTTPAuth turns basic auth on or off for an app.
func (s *Routing) SetHTTPAuth(ctx context.Context, name string, on bool) error {
	return s.changeAccess(ctx, name, func(a *Access) error {
		a.Auth = on
		return nil
	})
}

// AddHTTPUser adds a basic auth user (or sets its password); the password
// is kept only as a bcrypt hash.
func (s *Routing) AddHTTPUser(ctx context.Context, name, user, password string) error {
	if err := validUser(user); err != nil {
		return err
	}
	if password == "" || len(password) > 72 {
		return errors.New("a password has 1 to 72 bytes")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.changeAccess(ctx, name, func(a *Access) error {
		a.Users = maps.Clone(a.Users)
		if a.Users == nil {
			a.Users = map[string]string{}
		}
		a.Users[user] = string(hash)
		return nil
	})
}

// RemoveHTTPUser removes a basic auth user; ErrNotFound if there is none.
func (s *Routing) RemoveHTTPUser(ctx context.Context, name, user string) error {
	return s.changeAccess(ctx, name, func(a *Access) error {
		if _, ok := a.Users[user]; !ok {
			return NotFoundf("%s has no user %q", name, user)
		}
		a.Users = maps.Clone(a.Users)
		delete(a.Users, user)
		return nil
	})
}

// AddAllowedIP lets a client network in (see AccessRules).
func (s *Routing) AddAllowedIP(ctx context.Context, name, network string) error {
	p, err := ParsePrefix(network)
	if err != nil {
		return err
	}
	return s.changeAccess(ctx, name, func(a *Access) error {
		if !slices.Contains(a.Allow, p.String()) {
			a.Allow = append(slices.Clone(a.Allow), p.String())
		}
		return nil
	})
}

// RemoveAllowedIP removes a network AddAllowedIP added; ErrNotFound if it
// is not there. app.json's networks are removed by changing app.json.
func (s *Routing) RemoveAllowedIP(ctx context.Context, name, network string) error {
	p, err := ParsePrefix(network)
	if err != nil {
		return err
	}
	return s.changeAccess(ctx, name, func(a *Access) error {
		i := slices.Index(a.Allow, p.String())
		if i < 0 {
			return NotFoundf("%s is not an allowed network of %s", p, name)
		}
		a.Allow = slices.Delete(slices.Clone(a.Allow), i, i+1)
		return nil
	})
}

func (s *Routing) changeAccess(ctx context.Context, name string, change func(*Access) error) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	acc := a.Access
	if err := change(&acc); err != nil {
		return err
	}
	return s.apply(ctx, SetAccess{App: name, Access: acc})
}

// AccessReport is an app's access rules for people: user names, never
// their hashes.
type AccessReport struct {
	Auth  bool     `json:"auth"`
	Users []string `json:"users"`
	// Allow is what http-auth:add-allowed-ip added; AllowManifest what the
	// current release's app.json pier.access.allow adds.
	Allow         []string `json:"allow"`
	AllowManifest []string `json:"allow_app_json"`
	// ManifestIgnored says AllowManifest does not apply: an admin set
	// rules (ManifestAccessApplies).
	ManifestIgnored bool `json:"app_json_ignored,omitempty"`
}

// ManifestAccessApplies reports whether the networks an app's own
// app.json allows (pier.access.allow) apply: only while an admin set no
// rules. Pushed by anyone with a deploy key, they may restrict an open
// app, never let anyone past an admin's password or allowlist.
func ManifestAccessApplies(a App) bool { return !a.Access.Auth && len(a.Access.Allow) == 0 }

// AccessOf reports an app's access rules.
func (s *Routing) AccessOf(ctx context.Context, name string) (AccessReport, error) {
	a, err := s.app(ctx, name)
	if err != nil {
		return AccessReport{}, err
	}
	rep := AccessReport{Auth: a.Access.Auth, Users: slices.Sorted(maps.Keys(a.Access.Users)),
		Allow: slices.Clone(a.Access.Allow)}
	if m := s.manifestAccess(ctx, a); m != nil {
		rep.AllowManifest = m.Allow
		rep.ManifestIgnored = len(m.Allow) > 0 && !ManifestAccessApplies(a)
	}
	return rep, nil
}

// manifestAccess is the current release's pier.access, nil if none.
func (s *Routing) manifestAccess(ctx context.Context, a App) *AccessSettings {
	if a.Release == 0 {
		return nil
	}
	rel, err := s.store.Release(ctx, a.Name, a.Release)
	if err != nil {
		s.log.Warn("read release for access rules", "app", a.Name, "err", err)
		return nil
	}
	return rel.Manifest.Pier.Access
}

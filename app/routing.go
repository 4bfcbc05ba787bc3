package app

import "context"

// Routing holds the use-cases of an app's routing: its custom domains and
// its access rules (http-auth, allowed networks). They record changes; the
// node passes them on to the router.
type Routing struct{ core }

// NewRouting returns the routing use-cases over deps.
func NewRouting(set Settings, d Deps) *Routing { return &Routing{newCore(set, d)} }

// app validates name and loads the app.
func (s *Routing) app(ctx context.Context, name string) (App, error) {
	if err := ValidName(name); err != nil {
		return App{}, err
	}
	return s.load(ctx, name)
}

// Auth holds the use-cases of who may use pier: SSH keys and the
// dashboard's admin password.
type Auth struct{ core }

// NewAuth returns the key and password use-cases over deps.
func NewAuth(d Deps) *Auth { return &Auth{newCore(Settings{}, d)} }

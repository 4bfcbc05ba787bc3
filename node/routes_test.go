package node

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"pier/app"
)

// An app's own app.json cannot widen the access rules an admin set: a
// release whose pier.access.allow lets in every network leaves an app
// behind http-auth asking for its password, and one behind an admin's
// allowlist refusing everyone else. Only an app the admin left open takes
// app.json's networks.
func TestManifestAccessCannotWidenAdminRules(t *testing.T) {
	r := newRig(t)
	r.watch()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	admin := map[string]app.Access{
		"open":    {},
		"guarded": {Auth: true, Users: map[string]string{"alice": string(hash)}},
		"listed":  {Allow: []string{"192.0.2.0/24"}},
	}
	manifest := map[string][]string{
		"open":    {"198.51.100.0/24"}, // not loopback: the router must refuse the test's requests
		"guarded": {"0.0.0.0/0", "::/0"},
		"listed":  {"0.0.0.0/0", "::/0"},
	}
	for _, name := range []string{"open", "guarded", "listed"} {
		r.create(name)
		if acc := admin[name]; acc.Auth || len(acc.Allow) > 0 {
			r.apply(app.SetAccess{App: name, Access: acc})
		}
		rel := release(name, 1, "one")
		rel.Manifest.Pier.Access = &app.AccessSettings{Allow: manifest[name]}
		r.apply(app.PutRelease{Release: rel})
	}
	if err := r.act.Sync(r.ctx); err != nil {
		t.Fatal(err)
	}

	prefixes := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	want := map[string]app.AccessRules{
		"open":    {Allow: prefixes("198.51.100.0/24")},
		"guarded": {Auth: true, Users: admin["guarded"].Users},
		"listed":  {Allow: prefixes("192.0.2.0/24")},
	}
	for name, w := range want {
		a, err := r.store.App(r.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got := r.act.accessRules(r.ctx, a)
		if got.Auth != w.Auth || fmt.Sprint(got.Users) != fmt.Sprint(w.Users) || !slices.Equal(got.Allow, w.Allow) {
			t.Errorf("%s: rules for the router %+v, want %+v", name, got, w)
		}
	}

	// What the router, told by the watch loop, does with a request from
	// loopback: inside app.json's 0.0.0.0/0, outside every other network.
	get := func(name, user, pass string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", r.url+"/", nil)
		req.Host = name + ".localhost"
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", name, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, name := range []string{"open", "guarded", "listed"} {
		r.eventually(name+" routed", func() bool { return get(name, "", "") != http.StatusNotFound })
	}
	r.eventually("guarded serving", func() bool { return get("guarded", "alice", "secret") == http.StatusOK })
	for _, c := range []struct {
		name, user, pass string
		want             int
	}{
		{"open", "", "", http.StatusForbidden},       // app.json's allowlist applies
		{"guarded", "", "", http.StatusUnauthorized}, // app.json's 0.0.0.0/0 does not
		{"guarded", "alice", "wrong", http.StatusUnauthorized},
		{"listed", "", "", http.StatusForbidden},
	} {
		if code := get(c.name, c.user, c.pass); code != c.want {
			t.Errorf("%s as %q from loopback: got %d, want %d", c.name, c.user, code, c.want)
		}
	}
}

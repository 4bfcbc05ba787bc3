package commands

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"pier/app"
	"pier/store"
	"pier/web"
)

func TestAdminCommands(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := struct {
		*app.Auth
		*web.LoginTokens
	}{app.NewAuth(app.Deps{Store: st, Audit: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}), &web.LoginTokens{}}
	p := newPlatform()
	p.apps["hello"] = app.App{Name: "hello"}
	tb := New(p, Info{Version: "1.2.3", Dashboard: svc,
		DashboardURLs: []string{"http://pier.example.test", "http://127.0.0.1:9180"}})
	ci := Identity{Name: "ci", App: "hello"}
	ctx := context.Background()

	tests := []struct {
		name   string
		user   Identity
		stdin  string
		args   []string
		code   int
		out    string // in stdout, or in stderr if the code is not 0
		stored string // a password that must work afterwards, if any
	}{
		{"sets the password", alice, "correct horse battery\n", []string{"admin:password"}, 0, "http://pier.example.test/login", "correct horse battery"},
		{"refuses a short one", alice, "short\n", []string{"admin:password"}, 1, "at least 10", "correct horse battery"},
		{"wants one on stdin", root, "", []string{"admin:password"}, 2, "no password on stdin", "correct horse battery"},
		{"takes no arguments", root, "", []string{"admin:password", "hunter2hunter2"}, 2, "usage: admin:password", "correct horse battery"},
		{"an app key may not", ci, "another one here\n", []string{"admin:password"}, 1, "needs an admin key", "correct horse battery"},
		{"prints login links", root, "", []string{"admin:login"}, 0, "http://127.0.0.1:9180/login?token=", ""},
		{"an app key gets no link", ci, "", []string{"admin:login"}, 1, "needs an admin key", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tb, tc.user, tc.stdin, tc.args...)
			got := r.stdout
			if tc.code != 0 {
				got = r.stderr
			}
			if r.code != tc.code || !strings.Contains(got, tc.out) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", r.code, r.stdout, r.stderr, tc.code, tc.out)
			}
			if tc.stored != "" {
				if err := svc.CheckAdminPassword(ctx, tc.stored); err != nil {
					t.Errorf("password %q: %v", tc.stored, err)
				}
			}
		})
	}

	t.Run("the printed link logs in once", func(t *testing.T) {
		r := run(tb, root, "", "admin:login")
		_, tok, ok := strings.Cut(strings.Fields(r.stdout)[len(strings.Fields(r.stdout))-1], "/login?token=")
		if !ok || !svc.RedeemLoginToken(tok) || svc.RedeemLoginToken(tok) {
			t.Fatalf("token from %q does not work exactly once", r.stdout)
		}
	})
}

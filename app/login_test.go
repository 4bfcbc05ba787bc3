package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"pier/app"
)

func loginService(t *testing.T) *app.Auth {
	t.Helper()
	st := openStore(t)
	return app.NewAuth(app.Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func TestAdminPassword(t *testing.T) {
	svc := loginService(t)
	ctx := context.Background()
	if err := svc.CheckAdminPassword(ctx, "anything at all"); !errors.Is(err, app.ErrNoPassword) {
		t.Fatalf("with no password set: got %v, want ErrNoPassword", err)
	}
	for _, tc := range []struct{ name, pw, want string }{
		{"too short", "short", "at least 10"},
		{"too long", strings.Repeat("x", 73), "at most 72"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := svc.SetAdminPassword(ctx, tc.pw); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	if err := svc.SetAdminPassword(ctx, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := svc.CheckAdminPassword(ctx, "correct horse battery"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := svc.CheckAdminPassword(ctx, "correct horse"); !errors.Is(err, app.ErrWrongPassword) {
		t.Errorf("wrong password: got %v, want ErrWrongPassword", err)
	}
	if err := svc.SetAdminPassword(ctx, "another good one"); err != nil {
		t.Fatal(err)
	}
	if err := svc.CheckAdminPassword(ctx, "correct horse battery"); !errors.Is(err, app.ErrWrongPassword) {
		t.Errorf("old password after a change: got %v", err)
	}
}

func TestReservedName(t *testing.T) {
	st := openStore(t)
	svc := app.New(app.Settings{}, app.Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := svc.CreateApp(context.Background(), app.ReservedName); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("creating app %q: got %v, want it refused as reserved", app.ReservedName, err)
	}
}

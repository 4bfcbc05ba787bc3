package commands

import (
	"context"
	"strings"
	"testing"

	"pier/app"
)

// A key limited to one app runs that app's read and deploy commands and
// nothing else; an admin key runs everything.
func TestAppKeyPermissions(t *testing.T) {
	ci := Identity{Name: "ci", App: "hello"}
	tests := []struct {
		name string
		user Identity
		args []string
		ok   bool
	}{
		{"releases of its app", ci, []string{"releases", "hello"}, true},
		{"rollback its app", ci, []string{"releases:rollback", "hello", "v1"}, true},
		{"restart its app", ci, []string{"ps:restart", "hello"}, true},
		{"logs with flags first", ci, []string{"logs", "-n", "5", "hello"}, true},
		{"help", ci, []string{"help"}, true},
		{"releases of another app", ci, []string{"releases", "world"}, false},
		{"config of its app", ci, []string{"config:show", "hello"}, false},
		{"config:set", ci, []string{"config:set", "hello", "A=1"}, false},
		{"scale", ci, []string{"ps:scale", "hello", "web=2"}, false},
		{"destroy", ci, []string{"apps:destroy", "hello", "--force"}, false},
		{"add a key", ci, []string{"ssh-keys:add", "evil"}, false},
		{"apps:list", ci, []string{"apps:list"}, false},
		{"domains of its app", ci, []string{"domains:report", "hello"}, true},
		{"access rules of its app", ci, []string{"http-auth:report", "hello"}, true},
		{"add a domain", ci, []string{"domains:add", "hello", "www.example.com"}, false},
		{"open its app", ci, []string{"http-auth:disable", "hello"}, false},
		{"allow a network", ci, []string{"http-auth:add-allowed-ip", "hello", "0.0.0.0/0"}, false},
		{"admin scales", Identity{Name: "alice"}, []string{"ps:scale", "hello", "web=2"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			p.apps["hello"] = app.App{Name: "hello", Release: 2}
			p.apps["world"] = app.App{Name: "world", Release: 1}
			var stdout, stderr strings.Builder
			code := New(p, Info{}).Run(context.Background(), Call{User: tt.user, Args: tt.args, Stdout: &stdout, Stderr: &stderr})
			denied := strings.Contains(stderr.String(), "this key may only")
			if tt.ok && denied || !tt.ok && (!denied || code != 1) {
				t.Fatalf("exit %d, stderr %q; want allowed=%v", code, stderr.String(), tt.ok)
			}
			if !tt.ok && len(p.calls) > 0 {
				t.Fatalf("a denied command reached the platform: %q", p.calls)
			}
		})
	}
}

// Changes are written to the audit log with who ran them, config values
// masked; reads are not.
func TestAuditLog(t *testing.T) {
	p := newPlatform()
	p.apps["hello"] = app.App{Name: "hello", Release: 2}
	tb := New(p, Info{})
	for _, args := range [][]string{
		{"config:set", "hello", "SECRET=hunter2"},
		{"releases", "hello"},
		{"ps:scale", "hello", "web=2"},
		{"config:set", "hello", "BAD"}, // usage error: not recorded
	} {
		tb.Run(context.Background(), Call{User: Identity{Name: "alice"}, Args: args})
	}
	if len(p.events) != 2 {
		t.Fatalf("got %d events, want 2: %+v", len(p.events), p.events)
	}
	e := p.events[0]
	if e.Who != "alice" || e.App != "hello" || e.Action != "config:set" || strings.Contains(e.Detail, "hunter2") {
		t.Errorf("got %+v", e)
	}
}

func TestDestroyAsksForTheName(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		ok    bool
	}{
		{"typed", []string{"apps:destroy", "hello"}, "hello\n", true},
		{"forced", []string{"apps:destroy", "hello", "--force"}, "", true},
		{"wrong name", []string{"apps:destroy", "hello"}, "world\n", false},
		{"no answer", []string{"apps:destroy", "hello"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			p.apps["hello"] = app.App{Name: "hello"}
			var stderr strings.Builder
			code := New(p, Info{}).Run(context.Background(), Call{User: Identity{Name: "alice"}, Args: tt.args,
				Stdin: strings.NewReader(tt.stdin), Stderr: &stderr})
			destroyed := len(p.calls) == 1 && p.calls[0] == "Destroy hello"
			if destroyed != tt.ok || (code == 0) != tt.ok {
				t.Fatalf("exit %d, calls %q, stderr %q; want destroyed=%v", code, p.calls, stderr.String(), tt.ok)
			}
		})
	}
}

func TestParseMiB(t *testing.T) {
	for in, want := range map[string]int{"512M": 512, "1G": 1024, "256mib": 256, "64": 64, "0": 0, "1.5g": 1536} {
		if got, err := parseMiB(in); err != nil || got != want {
			t.Errorf("parseMiB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"lots", "8M", "100G", "-1"} {
		if _, err := parseMiB(in); err == nil {
			t.Errorf("parseMiB(%q) accepted", in)
		}
	}
}

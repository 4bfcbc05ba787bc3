package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// The fake's methods for domains and access rules.

func (p *platform) Domains(_ context.Context, name string) ([]string, error) {
	if err := p.known(name); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{name + ".localhost"}, p.apps[name].Domains...), nil
}

func (p *platform) AddDomain(_ context.Context, name, domain string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("AddDomain %s %s", name, domain)
	return nil
}

func (p *platform) RemoveDomain(_ context.Context, name, domain string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("RemoveDomain %s %s", name, domain)
	return nil
}

type fakeCerts struct{}

func (fakeCerts) CARoot() []byte { return []byte("-----BEGIN CERTIFICATE-----\n") }

func (fakeCerts) Certificate(_ context.Context, host string) app.CertStatus {
	if host == "hello.localhost" {
		return app.CertStatus{Host: host, Status: "valid", Issuer: "pier local CA", NotAfter: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	}
	return app.CertStatus{Host: host, Status: "none"}
}

func TestRoutingCommands(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		code           int
		call           string
		stdout, stderr string
	}{
		{"domains:add", []string{"domains:add", "hello", "www.example.com"}, 0, "AddDomain hello www.example.com", "answers at www.example.com", ""},
		{"domains:add a wildcard", []string{"domains:add", "hello", "*.example.com"}, 2, "", "", "wildcards"},
		{"domains:add an IP", []string{"domains:add", "hello", "10.0.0.1"}, 2, "", "", "IP address"},
		{"domains:add to a missing app", []string{"domains:add", "nope", "www.example.com"}, 1, "", "", "does not exist"},
		{"domains:remove", []string{"domains:remove", "hello", "WWW.example.com"}, 0, "RemoveDomain hello WWW.example.com", "no longer answers at www.example.com", ""},
		{"domains:report", []string{"domains:report", "hello"}, 0, "", "hello.localhost  valid        2030-01-02 03:04:05 UTC  pier local CA\nwww.example.com  none", ""},
		{"domains:report json", []string{"domains:report", "hello", "--format", "json"}, 0, "", `"not_after": "2030-01-02T03:04:05Z"`, ""},
		{"ca:export", []string{"ca:export"}, 0, "", "BEGIN CERTIFICATE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			p.apps["hello"] = app.App{Name: "hello", Release: 2, Domains: []string{"www.example.com"}}
			tb := New(p, Info{Version: "test", Certs: fakeCerts{}})
			var stdout, stderr strings.Builder
			code := tb.Run(context.Background(), Call{User: Identity{Name: "alice"}, Args: tt.args, Stdout: &stdout, Stderr: &stderr})
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, stdout.String(), stderr.String())
			}
			switch {
			case tt.call == "" && len(p.calls) > 0:
				t.Errorf("got calls %q, want none", p.calls)
			case tt.call != "" && (len(p.calls) != 1 || p.calls[0] != tt.call):
				t.Errorf("got calls %q, want %q", p.calls, tt.call)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.stderr)
			}
		})
	}
	// Without HTTPS there is no CA to export.
	var stderr strings.Builder
	if code := New(newPlatform(), Info{}).Run(context.Background(), Call{Args: []string{"ca:export"}, Stderr: &stderr}); code != 1 || !strings.Contains(stderr.String(), "HTTPS is disabled") {
		t.Errorf("ca:export without HTTPS: exit %d, %q", code, stderr.String())
	}
}

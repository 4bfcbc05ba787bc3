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
	tests := []opCase{
		{"domains:add", []string{"domains:add", "hello", "www.example.com"}, 0, "AddDomain hello www.example.com", "answers at www.example.com", ""},
		{"domains:add several", []string{"domains:add", "hello", "a.example.com", "b.example.com"}, 0,
			"AddDomain hello a.example.com\nAddDomain hello b.example.com", "answers at b.example.com", ""},
		{"domains:add several, one bad: none added", []string{"domains:add", "hello", "a.example.com", "*.example.com"}, 2, "", "", "wildcards"},
		{"domains:add a wildcard", []string{"domains:add", "hello", "*.example.com"}, 2, "", "", "wildcards"},
		{"domains:add an IP", []string{"domains:add", "hello", "10.0.0.1"}, 2, "", "", "IP address"},
		{"domains:add to a missing app", []string{"domains:add", "nope", "www.example.com"}, 1, "", "", "does not exist"},
		{"domains:remove", []string{"domains:remove", "hello", "WWW.example.com"}, 0, "RemoveDomain hello WWW.example.com", "no longer answers at www.example.com", ""},
		{"domains:report", []string{"domains:report", "hello"}, 0, "", "hello.localhost  valid        2030-01-02 03:04:05 UTC  pier local CA\nwww.example.com  none", ""},
		{"domains:report json", []string{"domains:report", "hello", "--format", "json"}, 0, "", `"not_after": "2030-01-02T03:04:05Z"`, ""},
		{"ca:export", []string{"ca:export"}, 0, "", "BEGIN CERTIFICATE", ""},
	}
	runOpCases(t, tests, Info{Version: "test", Certs: fakeCerts{}}, func(p *platform) {
		p.apps["hello"] = app.App{Name: "hello", Release: 2, Domains: []string{"www.example.com"}}
	})
	// Without HTTPS there is no CA to export.
	var stderr strings.Builder
	if code := New(newPlatform(), Info{}).Run(context.Background(), Call{Args: []string{"ca:export"}, Stderr: &stderr}); code != 1 || !strings.Contains(stderr.String(), "HTTPS is disabled") {
		t.Errorf("ca:export without HTTPS: exit %d, %q", code, stderr.String())
	}
}

// One crash restarted at once is told as that, not as a crash loop.
func TestPsReportCrashes(t *testing.T) {
	up := []app.Instance{{ID: "hello-1", Running: true, Addr: "10.0.0.2:5000"}}
	tests := []opCase{
		{"one crash", []string{"ps:report", "hello"}, 0, "", "CRASHED:  once, 2s ago; running again", ""},
		{"a loop", []string{"ps:report", "worky"}, 0, "", "CRASH LOOP:  crashed 3 times, last 2s ago", ""},
	}
	runOpCases(t, tests, Info{Version: "test"}, func(p *platform) {
		p.apps["hello"] = app.App{Name: "hello", Release: 1}
		p.apps["worky"] = app.App{Name: "worky", Release: 1}
		last := time.Now().Add(-2 * time.Second)
		p.procs = map[string][]app.ProcessReport{
			"hello": {{Type: "web", Desired: 1, Instances: up, Crashes: 1, LastCrash: last}},
			"worky": {{Type: "web", Desired: 1, Crashes: 3, LastCrash: last, NextRestart: time.Now().Add(5 * time.Second)}},
		}
	})
}

func (p *platform) SetHTTPAuth(_ context.Context, name string, on bool) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("SetHTTPAuth %s %v", name, on)
	return nil
}

func (p *platform) AddHTTPUser(_ context.Context, name, user, password string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("AddHTTPUser %s %s %s", name, user, password)
	return nil
}

func (p *platform) RemoveHTTPUser(_ context.Context, name, user string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("RemoveHTTPUser %s %s", name, user)
	return nil
}

func (p *platform) AddAllowedIP(_ context.Context, name, network string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("AddAllowedIP %s %s", name, network)
	return nil
}

func (p *platform) RemoveAllowedIP(_ context.Context, name, network string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("RemoveAllowedIP %s %s", name, network)
	return nil
}

func (p *platform) AccessOf(_ context.Context, name string) (app.AccessReport, error) {
	if err := p.known(name); err != nil {
		return app.AccessReport{}, err
	}
	return app.AccessReport{Auth: true, Users: []string{"alice"}, Allow: []string{"127.0.0.2/32"}, AllowManifest: []string{"10.0.0.0/8"}}, nil
}

func TestHTTPAuthCommands(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		stdin          string
		code           int
		calls          string
		stdout, stderr string
	}{
		{"enable", []string{"http-auth:enable", "hello"}, "", 0, "SetHTTPAuth hello true", "basic auth:   on, users: alice", ""},
		{"enable with a user", []string{"http-auth:enable", "hello", "alice", "pw"}, "", 0, "AddHTTPUser hello alice pw|SetHTTPAuth hello true", "allowed:      127.0.0.2/32, 10.0.0.0/8 (app.json)", ""},
		{"disable", []string{"http-auth:disable", "hello"}, "", 0, "SetHTTPAuth hello false", "", ""},
		{"add-user", []string{"http-auth:add-user", "hello", "bob", "pw"}, "", 0, "AddHTTPUser hello bob pw", "bob may sign in", ""},
		{"add-user from stdin", []string{"http-auth:add-user", "hello", "bob"}, "s3cret\n", 0, "AddHTTPUser hello bob s3cret", "", ""},
		{"add-user without password", []string{"http-auth:add-user", "hello", "bob"}, "", 2, "", "", "no password"},
		{"remove-user", []string{"http-auth:remove-user", "hello", "bob"}, "", 0, "RemoveHTTPUser hello bob", "", ""},
		{"add-allowed-ip", []string{"http-auth:add-allowed-ip", "hello", "10.0.0.0/8"}, "", 0, "AddAllowedIP hello 10.0.0.0/8", "requests from allowed networks pass", ""},
		{"add-allowed-ip bad", []string{"http-auth:add-allowed-ip", "hello", "10.0.0.0/99"}, "", 2, "", "", "invalid network"},
		{"remove-allowed-ip", []string{"http-auth:remove-allowed-ip", "hello", "127.0.0.2"}, "", 0, "RemoveAllowedIP hello 127.0.0.2", "", ""},
		{"report json", []string{"http-auth:report", "hello", "--format", "json"}, "", 0, "", `"allow_app_json": [`, ""},
		{"missing app", []string{"http-auth:enable", "nope"}, "", 1, "", "", "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			p.apps["hello"] = app.App{Name: "hello", Release: 2}
			tb := New(p, Info{Version: "test"})
			var stdout, stderr strings.Builder
			code := tb.Run(context.Background(), Call{User: Identity{Name: "alice"}, Args: tt.args,
				Stdin: strings.NewReader(tt.stdin), Stdout: &stdout, Stderr: &stderr})
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, stdout.String(), stderr.String())
			}
			if got := strings.Join(p.calls, "|"); got != tt.calls {
				t.Errorf("got calls %q, want %q", got, tt.calls)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			for _, e := range p.events {
				if strings.Contains(e.Detail, "pw") || strings.Contains(e.Detail, "s3cret") {
					t.Errorf("the audit log holds a password: %+v", e)
				}
			}
		})
	}
}

// Dokku's commands pier's own do in part.
func TestDokkuCommands(t *testing.T) {
	tests := []opCase{
		{"apps:exists", []string{"apps:exists", "hello"}, 0, "", "hello exists", ""},
		{"apps:exists of a missing app", []string{"apps:exists", "nope"}, 1, "", "", "does not exist"},
		{"config:keys", []string{"config:keys", "hello"}, 0, "", "LONG_SECRET\nSHORT\n", ""},
		{"config:export", []string{"config:export", "hello"}, 0, "", "export LONG_SECRET='0123456789abcdef'\nexport SHORT='abc'\n", ""},
		{"config:export envfile", []string{"config:export", "hello", "--format", "envfile"}, 0, "", "SHORT='abc'\n", ""},
		{"config:export bad format", []string{"config:export", "hello", "--format", "xml"}, 2, "", "", "want exports or envfile"},
		{"config:clear", []string{"config:clear", "hello", "--no-restart"}, 0,
			"ChangeConfig hello set=map[] unset=[LONG_SECRET SHORT] norestart=true", "", ""},
		{"config:clear with keys", []string{"config:clear", "hello", "SHORT"}, 2, "", "", "takes no keys"},
		{"domains:set", []string{"domains:set", "hello", "a.example.com", "WWW.example.com"}, 0,
			"AddDomain hello a.example.com", "answers at a.example.com", ""},
		{"domains:set to others", []string{"domains:set", "hello", "b.example.com"}, 0,
			"RemoveDomain hello www.example.com\nAddDomain hello b.example.com", "no longer answers at www.example.com", ""},
		{"domains:clear", []string{"domains:clear", "hello"}, 0, "RemoveDomain hello www.example.com", "", ""},
		{"domains:set a bad one", []string{"domains:set", "hello", "*.example.com"}, 2, "", "", "wildcards"},
		{"ps:report of every app", []string{"ps:report"}, 0, "", "=== hello: ", ""},
		{"ps:report of every app, json", []string{"ps:report", "--format", "json"}, 0, "", `"app": "hello"`, ""},
		{"ps:report of every app, bad format", []string{"ps:report", "--format", "xml"}, 2, "", "", "xml"},
	}
	runOpCases(t, tests, Info{Version: "test", Certs: fakeCerts{}}, func(p *platform) {
		p.apps["hello"] = app.App{Name: "hello", Release: 2, Domains: []string{"www.example.com"}}
	})
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote: %s", got)
	}
}

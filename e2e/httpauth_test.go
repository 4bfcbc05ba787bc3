package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// getAs fetches / from app through the router from the loopback address
// src, with basic auth if user is set.
func (d *daemon) getAs(app, src, user, pass string) (int, http.Header, string) {
	d.t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.httpPort), nil)
	req.Host = app + ".localhost"
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		d.t.Fatalf("GET %s from %s: %v", app, src, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// Basic auth and allowed networks, set by commands and by app.json; denied
// requests never reach (or wake) the app.
func TestHTTPAuth(t *testing.T) {
	d := startDaemon(t)
	files := staticApp("private")
	files["app.json"] = `{"pier": {"access": {"allow": ["127.0.0.3"]}}}`
	repo := gitRepo(t, files)
	if out, ok := d.push(repo, "hello", d.key); !ok {
		t.Fatalf("push: %s", out)
	}
	// app.json's allowlist alone: only 127.0.0.3 gets in.
	if code, _, _ := d.getAs("hello", "127.0.0.1", "", ""); code != 403 {
		t.Fatalf("from a network app.json does not allow: %d, want 403", code)
	}
	if code, _, body := d.getAs("hello", "127.0.0.3", "", ""); code != 200 || body != "private" {
		t.Fatalf("from the network app.json allows: %d %q", code, body)
	}

	for _, args := range [][]string{
		{"http-auth:add-user", "hello", "alice", "s3cret"},
		{"http-auth:enable", "hello"},
		{"http-auth:add-allowed-ip", "hello", "127.0.0.2/32"},
	} {
		if out, code := d.pier(nil, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, out)
		}
	}
	out, _ := d.pier(nil, "http-auth:report", "hello")
	for _, want := range []string{"on, users: alice", "127.0.0.2/32, 127.0.0.3/32 (app.json, ignored"} {
		if !strings.Contains(out, want) {
			t.Errorf("http-auth:report lacks %q:\n%s", want, out)
		}
	}
	if out, _ := d.pier(nil, "events", "hello"); strings.Contains(out, "s3cret") {
		t.Errorf("the audit log holds the password:\n%s", out)
	}

	for _, tc := range []struct {
		name, src, user, pass string
		want                  int
	}{
		{"right password", "127.0.0.1", "alice", "s3cret", 200},
		{"wrong password", "127.0.0.1", "alice", "nope", 401},
		{"missing auth", "127.0.0.1", "", "", 401},
		{"allowed address", "127.0.0.2", "", "", 200},
		// A deploy key's app.json cannot let anyone past an admin's rules.
		{"app.json's address", "127.0.0.3", "", "", 401},
	} {
		code, h, body := d.getAs("hello", tc.src, tc.user, tc.pass)
		if code != tc.want || code == 200 && body != "private" || code == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: got %d %q (WWW-Authenticate %q), want %d", tc.name, code, body, h.Get("WWW-Authenticate"), tc.want)
		}
	}

	t.Run("a denied request does not wake a sleeping app", func(t *testing.T) {
		if out, code := d.pier(nil, "sleep:now", "hello"); code != 0 {
			t.Fatalf("sleep:now: %s", out)
		}
		for i := 0; i < 3; i++ {
			if code, _, _ := d.getAs("hello", "127.0.0.1", "alice", "wrong"); code != 401 {
				t.Fatalf("got %d, want 401", code)
			}
		}
		if out, _ := d.pier(nil, "sleep:report", "hello"); !strings.Contains(out, "frozen") {
			t.Fatalf("after denied requests the app is not frozen:\n%s", out)
		}
		if code, _, body := d.getAs("hello", "127.0.0.1", "alice", "s3cret"); code != 200 || body != "private" {
			t.Fatalf("an allowed request to the frozen app: %d %q", code, body)
		}
	})

	t.Run("rules go away", func(t *testing.T) {
		for _, args := range [][]string{
			{"http-auth:remove-user", "hello", "alice"},
			{"http-auth:disable", "hello"},
			{"http-auth:remove-allowed-ip", "hello", "127.0.0.2"},
		} {
			if out, code := d.pier(nil, args...); code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, out)
			}
		}
		// app.json's allowlist stays until app.json changes.
		if code, _, _ := d.getAs("hello", "127.0.0.2", "", ""); code != 403 {
			t.Errorf("from a removed network: %d, want 403", code)
		}
		commit(t, repo, map[string]string{"app.json": `{}`})
		if out, ok := d.push(repo, "hello", d.key); !ok {
			t.Fatalf("push: %s", out)
		}
		if code, _, body := d.getAs("hello", "127.0.0.2", "", ""); code != 200 || body != "private" {
			t.Errorf("with no rules left: %d %q", code, body)
		}
	})
}

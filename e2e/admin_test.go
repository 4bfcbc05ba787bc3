package e2e

// End-to-end tests of the admin surface: app-limited keys, the audit log,
// destroying an app.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ssh runs an admin command over SSH with a key.
func (d *daemon) ssh(key string, args ...string) (string, int) {
	d.t.Helper()
	cmd := exec.Command("ssh", append([]string{"-i", key, "-p", fmt.Sprint(d.sshPort), "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"pier@" + d.host}, args...)...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return string(out), 0
}

func TestAdmin(t *testing.T) {
	d := startDaemon(t)
	repo := gitRepo(t, sleepyApp())
	for _, name := range []string{"hello", "world"} {
		if out, ok := d.push(repo, name, d.key); !ok {
			t.Fatalf("push %s:\n%s", name, out)
		}
	}
	ci := filepath.Join(t.TempDir(), "ci")
	sh(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ci)
	pub, _ := os.ReadFile(ci + ".pub")
	if out, code := d.pier(strings.NewReader(string(pub)), "ssh-keys:add", "ci", "--app", "hello"); code != 0 {
		t.Fatalf("ssh-keys:add --app: %d %s", code, out)
	}

	t.Run("a deploy key pushes its app and nothing else", func(t *testing.T) {
		commit(t, repo, map[string]string{"README": "ci was here\n"})
		if out, ok := d.push(repo, "hello", ci); !ok {
			t.Fatalf("ci pushing hello:\n%s", out)
		}
		if out, ok := d.push(repo, "world", ci); ok || !strings.Contains(out, "may only push to and read hello") {
			t.Fatalf("ci pushing world: ok=%v\n%s", ok, out)
		}
		if out, code := d.ssh(ci, "releases", "hello"); code != 0 || !strings.Contains(out, "v2") {
			t.Errorf("ci reading hello's releases: %d %s", code, out)
		}
		for _, args := range [][]string{{"config:set", "hello", "A=1"}, {"ps:scale", "hello", "web=2"},
			{"releases", "world"}, {"apps:destroy", "hello", "--force"}, {"ssh-keys:list"}} {
			if out, code := d.ssh(ci, args...); code != 1 || !strings.Contains(out, "this key may only") {
				t.Errorf("ci running %v: exit %d %s", args, code, out)
			}
		}
		if got := d.body("hello", "/"); got != "awake" {
			t.Errorf("hello after ci's push: %q", got)
		}
	})

	t.Run("the audit log says who changed what", func(t *testing.T) {
		d.mustPier("config:set", "hello", "TOKEN=s3cret")
		out := d.mustPier("events", "hello")
		for _, want := range []string{"ci", "git push", "root", "config:set", "TOKEN="} {
			if !strings.Contains(out, want) {
				t.Errorf("events lack %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "s3cret") {
			t.Errorf("events show a config value:\n%s", out)
		}
	})

	t.Run("apps:destroy asks for the name and removes everything", func(t *testing.T) {
		if out, code := d.pier(strings.NewReader("nope\n"), "apps:destroy", "world"); code != 1 || !strings.Contains(out, "nothing was removed") {
			t.Fatalf("destroy with the wrong name: %d %s", code, out)
		}
		if got := d.body("world", "/"); got != "awake" {
			t.Fatalf("world after a refused destroy: %q", got)
		}
		worldKey := filepath.Join(t.TempDir(), "ci-world")
		sh(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", worldKey)
		wpub, _ := os.ReadFile(worldKey + ".pub")
		d.mustPierIn(string(wpub), "ssh-keys:add", "ci-world", "--app", "world")
		out, code := d.pier(strings.NewReader("world\n"), "apps:destroy", "world")
		if code != 0 || !strings.Contains(out, "Removed the keys limited to world: ci-world") {
			t.Fatalf("destroy: %d %s", code, out)
		}
		// Its key must not bring it back.
		if out, ok := d.push(repo, "world", worldKey); ok || !strings.Contains(out, "not registered") {
			t.Errorf("a destroyed app's key pushed it again: ok=%v\n%s", ok, out)
		}
		if out := d.mustPier("ssh-keys:list"); strings.Contains(out, "ci-world") {
			t.Errorf("the destroyed app's key is still listed:\n%s", out)
		}
		if code, _, _ := d.get("world", "/"); code != 404 {
			t.Errorf("a destroyed app answers %d, want 404", code)
		}
		list, _ := d.rt.Instances(context.Background())
		for _, in := range list {
			if in.App == "world" {
				t.Errorf("instance %s of the destroyed app is left", in.ID)
			}
		}
		if out := d.mustPier("apps:list"); strings.Contains(out, "world") {
			t.Errorf("apps:list still lists world:\n%s", out)
		}
		for _, dir := range []string{"git/world.git", "runtime/logs/world", "cache/world"} {
			if _, err := os.Stat(filepath.Join(d.data, dir)); !os.IsNotExist(err) {
				t.Errorf("%s of the destroyed app is left (%v)", dir, err)
			}
		}
	})

	t.Run("resource:limit restarts the app with the limits", func(t *testing.T) {
		out := d.mustPier("resource:limit", "hello", "--memory", "128M", "--cpu", "0.5")
		if !strings.Contains(out, "memory 128 MiB, cpu 0.5") {
			t.Errorf("resource:limit said:\n%s", out)
		}
		if report := d.mustPier("apps:report", "hello"); !strings.Contains(report, "memory 128 MiB") {
			t.Errorf("apps:report:\n%s", report)
		}
		if got := d.body("hello", "/"); got != "awake" {
			t.Errorf("hello after the limits: %q", got)
		}
	})

	t.Run("apps:rename moves the app with its data, history and keys", func(t *testing.T) {
		d.mustPier("storage:mount", "hello", "data:/data")
		d.mustPier("ps:restart", "hello")
		if m := d.mustPier("run", "hello", "--", "grep", " /data ", "/proc/mounts"); !strings.Contains(m, "nosuid") || !strings.Contains(m, "nodev") {
			t.Errorf("the volume is mounted without nosuid,nodev: %q", m)
		}
		d.mustPier("run", "hello", "--", "sh", "-c", "echo kept > /data/note")
		d.mustPier("domains:add", "hello", "www.hello.test")
		if out, code := d.pier(nil, "apps:create", "taken"); code != 0 {
			t.Fatalf("apps:create: %s", out)
		}
		if out, code := d.pier(nil, "apps:rename", "hello", "taken"); code != 1 || !strings.Contains(out, "exists already") {
			t.Fatalf("rename to a taken name: %d %s", code, out)
		}
		if out, code := d.pier(nil, "apps:rename", "hello", "Greeter"); code != 2 {
			t.Fatalf("rename to an invalid name: %d %s", code, out)
		}
		if got := d.body("hello", "/"); got != "awake" {
			t.Fatalf("hello after refused renames: %q", got)
		}

		releases := d.mustPier("releases", "hello", "--format", "json")
		version := d.current()
		out := d.mustPier("apps:rename", "hello", "greeter")
		if !strings.Contains(out, "Renamed hello to greeter") || !strings.Contains(out, "greeter answers at http://greeter.") {
			t.Errorf("apps:rename said:\n%s", out)
		}
		if got := d.body("greeter", "/"); got != "awake" {
			t.Errorf("greeter answers %q", got)
		}
		if code, _, _ := d.get("hello", "/"); code != 404 {
			t.Errorf("the old name answers %d, want 404", code)
		}
		if code, body, err := d.getHost("www.hello.test", "/"); code != 200 || body != "awake" {
			t.Errorf("the custom domain answers %d %q %v", code, body, err)
		}
		if got := strings.TrimSpace(d.mustPier("run", "greeter", "--", "cat", "/data/note")); got != "kept" {
			t.Errorf("the volume after the rename holds %q", got)
		}
		if got := d.mustPier("releases", "greeter", "--format", "json"); got != strings.ReplaceAll(releases, `"hello"`, `"greeter"`) {
			t.Errorf("greeter's releases:\n%s\nwant hello's:\n%s", got, releases)
		}
		if got := d.mustPier("events", "greeter"); !strings.Contains(got, "apps:rename") || !strings.Contains(got, "git push") {
			t.Errorf("greeter's events lack its history or the rename:\n%s", got)
		}
		if out, code := d.ssh(ci, "releases", "greeter"); code != 0 {
			t.Errorf("the key limited to hello, reading greeter: %d %s", code, out)
		}
		for _, dir := range []string{"git/hello.git", "runtime/logs/hello", "runtime/volumes/hello"} {
			if _, err := os.Stat(filepath.Join(d.data, dir)); !os.IsNotExist(err) {
				t.Errorf("%s is left under the old name (%v)", dir, err)
			}
		}
		list, _ := d.rt.Instances(context.Background())
		for _, in := range list {
			if in.App == "hello" {
				t.Errorf("instance %s under the old name is left", in.ID)
			}
		}
		commit(t, repo, map[string]string{"README": "renamed\n"})
		if out, ok := d.push(repo, "greeter", d.key); !ok || !strings.Contains(out, fmt.Sprintf("Released v%d of greeter", version+1)) {
			t.Fatalf("push to the new name:\n%s", out)
		}
	})

	t.Run("a destroyed app's volumes are set aside: a new app of its name starts empty", func(t *testing.T) {
		d.mustPier("apps:destroy", "greeter", "--force")
		out := d.mustPier("storage:list", "--orphans")
		m := regexp.MustCompile(`(?m)^(greeter\.\S+)\s+greeter\s+\S+ \S+ UTC\s+data\s`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("storage:list --orphans:\n%s", out)
		}
		if out, ok := d.push(repo, "greeter", d.key); !ok {
			t.Fatalf("push of a new greeter:\n%s", out)
		}
		d.mustPier("storage:mount", "greeter", "data:/data")
		if out, code := d.pier(nil, "run", "greeter", "--", "cat", "/data/note"); code == 0 || strings.Contains(out, "kept") {
			t.Errorf("the new greeter found the old one's data: exit %d, %q", code, out)
		}
		d.mustPier("storage:purge", m[1])
		if out := d.mustPier("storage:list", "--orphans"); strings.Contains(out, m[1]) {
			t.Errorf("purged volumes still listed:\n%s", out)
		}
		if out, code := d.pier(nil, "storage:purge", "greeter"); code == 0 {
			t.Errorf("storage:purge of a live app's volumes succeeded: %s", out)
		}
	})
}

// mustPierIn runs a command with stdin, failing the test if it fails.
func (d *daemon) mustPierIn(stdin string, args ...string) string {
	d.t.Helper()
	out, code := d.pier(strings.NewReader(stdin), args...)
	if code != 0 {
		d.t.Fatalf("pier %v: exit %d\n%s", args, code, out)
	}
	return out
}

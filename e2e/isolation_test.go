package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"pier/app"
)

// TestAppsRunAsTheirOwnUsers: each app builds and runs under a user ID of
// its own, so that a process of one app that got out of its container
// still cannot signal another app's processes or read its volume.
func TestAppsRunAsTheirOwnUsers(t *testing.T) {
	d := startDaemon(t)
	uids := map[string]int{}
	for _, name := range []string{"alpha", "beta"} {
		if out, ok := d.push(gitRepo(t, nodeApp(name)), name, d.key); !ok {
			t.Fatalf("push %s:\n%s", name, out)
		}
		uid, err := strconv.Atoi(strings.TrimSpace(d.mustPier("run", name, "--", "id", "-u")))
		if err != nil || uid < app.FirstUID || uid > app.LastUID {
			t.Fatalf("%s runs as %d (%v), want a user ID of its own from %d", name, uid, err, app.FirstUID)
		}
		uids[name] = uid
		if who := strings.TrimSpace(d.mustPier("run", name, "--", "sh", "-c", "whoami; stat -c %u /app/server.js /app/node_modules/ms/index.js")); who != fmt.Sprintf("app\n%d\n%d", uid, uid) {
			t.Errorf("%s: whoami and its files' owners: %q, want app and %d", name, who, uid)
		}
	}
	if uids["alpha"] == uids["beta"] {
		t.Fatalf("alpha and beta both run as %d", uids["alpha"])
	}

	d.mustPier("storage:mount", "beta", "data:/data")
	d.mustPier("ps:restart", "beta")
	d.mustPier("run", "beta", "--", "sh", "-c", "echo secret > /data/s")
	if got := d.body("beta", "/"); !strings.HasPrefix(got, "beta") {
		t.Fatalf("beta answers %q", got)
	}

	// beta's web process, as the host sees it.
	pid := processOf(t, uids["beta"], "node")
	if pid == 0 {
		t.Fatalf("no node process of user %d on the host", uids["beta"])
	}
	// A process of alpha's user, outside any container.
	as := func(script string) (string, error) {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uids["alpha"]), Gid: uint32(uids["alpha"])}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := as(fmt.Sprintf("kill -0 %d", pid)); err == nil {
		t.Errorf("alpha's user can signal beta's process %d: %s", pid, out)
	}
	secret := filepath.Join(d.rt.VolumePath("beta", "data"), "s")
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret\n" {
		t.Fatalf("beta's volume file on the host: %q %v", b, err)
	}
	if out, err := as("cat " + secret); err == nil {
		t.Errorf("alpha's user can read beta's volume: %q", out)
	}
}

// processOf is the PID of a process named comm that runs as uid on this
// machine, 0 if there is none.
func processOf(t *testing.T, uid int, comm string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		c, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil || strings.TrimSpace(string(c)) != comm {
			continue
		}
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				pid, _ := strconv.Atoi(filepath.Base(dir))
				return pid
			}
		}
	}
	return 0
}

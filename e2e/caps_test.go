package e2e

// End-to-end tests of the machine's resource caps: instances of every app
// together, and one-off containers at once.

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestResourceCaps(t *testing.T) {
	d := startDaemon(t, "--max-instances", "3", "--max-one-offs", "2")
	repo := gitRepo(t, sleepyApp())
	if out, ok := d.push(repo, "hello", d.key); !ok {
		t.Fatalf("push hello:\n%s", out)
	}
	d.mustGet("hello")

	t.Run("ps:scale past --max-instances is refused and the app keeps serving", func(t *testing.T) {
		out, code := d.pier(nil, "ps:scale", "hello", "web=5")
		if code != 1 || !strings.Contains(out, "hello at web=5 would take the instances of all apps from 1 to 5, past the machine's cap of 3 (pier serve --max-instances raises it)") {
			t.Fatalf("ps:scale web=5: exit %d\n%s", code, out)
		}
		list, err := d.rt.Instances(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		web := 0
		for _, in := range list {
			if in.App == "hello" && in.Process == "web" {
				web++
			}
		}
		if web != 1 {
			t.Errorf("%d web instances of hello after the refusal, want 1", web)
		}
		d.mustGet("hello")
		d.mustPier("ps:scale", "hello", "web=3") // at the cap: taken
	})

	t.Run("a push past --max-instances is rejected and the others keep serving", func(t *testing.T) {
		out, ok := d.push(repo, "big", d.key)
		if ok || !strings.Contains(out, "big at web=1 would take the instances of all apps from 3 to 4, past the machine's cap of 3 (pier serve --max-instances raises it)") {
			t.Fatalf("push big at the cap: ok=%v\n%s", ok, out)
		}
		d.mustGet("hello")
		if code, _, _ := d.get("big", "/"); code == 200 {
			t.Errorf("big answers 200 after its push was rejected")
		}
	})

	t.Run("run past --max-one-offs is refused at once", func(t *testing.T) {
		for i := range 2 {
			cmd := exec.Command(pierBin, "run", "hello", "--", "sh", "-c", "echo started; sleep 120")
			cmd.Env = append(cmd.Environ(), "PIER_SOCKET="+d.socket)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			started := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if strings.Contains(sc.Text(), "started") {
						started <- true
					}
				}
			}()
			select {
			case <-started:
			case <-time.After(60 * time.Second):
				t.Fatalf("one-off %d never started", i+1)
			}
		}
		out, code := d.pier(nil, "run", "hello", "--", "echo", "third")
		if code == 0 || strings.Contains(out, "third") ||
			!strings.Contains(out, "this machine runs 2 one-off containers already (run, cron jobs), the most at once (pier serve --max-one-offs raises it); wait for one to end and try again") {
			t.Fatalf("a third run: exit %d\n%s", code, out)
		}
	})
}

package e2e

// End-to-end tests of cron: entries from app.json and the Procfile run on
// schedule in their own containers (with the daemon's test-only seconds
// field), while the web process is stopped, under their concurrency
// policies and timeouts, and across a daemon killed mid-run.

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// cronApp is a Procfile-only app with a web process, a Procfile cron line,
// and the app.json cron entries given.
func cronApp(appJSON string) map[string]string {
	return map[string]string{
		"Procfile": "web: python3 -m http.server $PORT\ncron1: @yearly echo from the Procfile\n",
		"app.json": appJSON,
	}
}

const cronJSON = `{"cron": [
  {"id": "tick", "schedule": "* * * * * *", "command": "date +%s.%N >> /data/ticks; echo tick"},
  {"id": "forbid", "schedule": "* * * * * *", "command": "sleep 3", "concurrency_policy": "forbid"},
  {"id": "replace", "schedule": "*/2 * * * * *", "command": "sleep 30", "concurrency_policy": "replace"},
  {"id": "timeout", "schedule": "*/3 * * * * *", "command": "echo started; sleep 30", "timeout": "1s"},
  {"id": "fail", "schedule": "@yearly", "command": "echo failing >&2; exit 3"},
  {"id": "long", "schedule": "*/2 * * * * *", "command": "sleep 60", "concurrency_policy": "forbid"}
]}`

type cronRunRow struct {
	ID       int64     `json:"id"`
	Entry    string    `json:"entry"`
	Trigger  string    `json:"trigger"`
	Started  time.Time `json:"started"`
	Status   string    `json:"status"`
	ExitCode *int      `json:"exit_code"`
	Output   string    `json:"output"`
}

// cronRuns returns the recorded runs of entry, newest first.
func (d *daemon) cronRuns(app, entry string) []cronRunRow {
	d.t.Helper()
	var rows []cronRunRow
	if err := json.Unmarshal([]byte(d.mustPier("cron:runs", app, entry, "--format", "json")), &rows); err != nil {
		d.t.Fatal(err)
	}
	return rows
}

// waitRuns polls entry's runs until ok says yes, or fails after limit.
func (d *daemon) waitRuns(app, entry string, limit time.Duration, what string, ok func([]cronRunRow) bool) []cronRunRow {
	d.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		rows := d.cronRuns(app, entry)
		if ok(rows) {
			return rows
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s: runs of %s after %s: %+v", what, entry, limit, rows)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func count(rows []cronRunRow, status string) int {
	n := 0
	for _, r := range rows {
		if r.Status == status {
			n++
		}
	}
	return n
}

func TestCron(t *testing.T) {
	d := startDaemon(t, "--cron-seconds")
	const name = "cronapp"
	d.mustPier("apps:create", name)
	d.mustPier("storage:mount", name, "data:/data")
	d.mustPier("cron:suspend", name) // each step below resumes what it tests
	repo := gitRepo(t, cronApp(cronJSON))
	if out, ok := d.push(repo, name, d.key); !ok {
		t.Fatalf("push:\n%s", out)
	}
	list := d.mustPier("cron:list", name)
	for _, want := range []string{"cron1", "@yearly", "tick", "* * * * * *", "forbid", "replace", "suspended"} {
		if !strings.Contains(list, want) {
			t.Errorf("cron:list lacks %q:\n%s", want, list)
		}
	}

	t.Run("an entry runs in its own container, writes to a volume, and is recorded", func(t *testing.T) {
		d.mustPier("cron:resume", name, "tick")
		rows := d.waitRuns(name, "tick", 15*time.Second, "two successful ticks", func(rows []cronRunRow) bool {
			return count(rows, "succeeded") >= 2
		})
		for _, r := range rows {
			if r.Status == "succeeded" && (r.ExitCode == nil || *r.ExitCode != 0 || r.Trigger != "schedule" || !strings.Contains(r.Output, "tick")) {
				t.Errorf("run %+v: want exit 0, trigger schedule, output tick", r)
			}
		}
		out := d.mustPier("run", name, "--", "cat", "/data/ticks")
		if n := strings.Count(out, "\n"); n < 2 {
			t.Errorf("/data/ticks has %d lines, want at least 2:\n%s", n, out)
		}
	})

	t.Run("it runs while the web process is stopped, and the web process stays stopped", func(t *testing.T) {
		d.mustPier("ps:stop", name)
		before := count(d.cronRuns(name, "tick"), "succeeded")
		d.waitRuns(name, "tick", 15*time.Second, "ticks while stopped", func(rows []cronRunRow) bool {
			return count(rows, "succeeded") >= before+3
		})
		list, err := d.rt.Instances(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			if in.App == name {
				t.Errorf("instance %s (%s) of the stopped app runs", in.ID, in.Process)
			}
		}
		if code, _, _ := d.get(name, "/"); code == 200 {
			t.Errorf("the stopped app answers 200")
		}
		d.mustPier("cron:suspend", name, "tick")
	})

	t.Run("forbid skips a run while the previous one goes on", func(t *testing.T) {
		d.mustPier("cron:resume", name, "forbid")
		rows := d.waitRuns(name, "forbid", 20*time.Second, "a skip and a finished run", func(rows []cronRunRow) bool {
			return count(rows, "skipped") >= 2 && count(rows, "succeeded") >= 1
		})
		d.mustPier("cron:suspend", name, "forbid")
		// Runs never overlap: each one started after the previous ended.
		var started []time.Time
		for _, r := range rows {
			if r.Status != "skipped" {
				started = append(started, r.Started)
			}
		}
		for i := 1; i < len(started); i++ {
			if gap := started[i-1].Sub(started[i]); gap < 2500*time.Millisecond {
				t.Errorf("forbid runs started %s apart, want no overlap of the 3 s runs", gap)
			}
		}
	})

	t.Run("replace stops the running one", func(t *testing.T) {
		d.mustPier("cron:resume", name, "replace")
		d.waitRuns(name, "replace", 20*time.Second, "a replaced run", func(rows []cronRunRow) bool {
			return count(rows, "replaced") >= 1
		})
		d.mustPier("cron:suspend", name, "replace")
	})

	t.Run("a run exceeding its timeout is killed and recorded as timed out", func(t *testing.T) {
		d.mustPier("cron:resume", name, "timeout")
		rows := d.waitRuns(name, "timeout", 20*time.Second, "a timed-out run", func(rows []cronRunRow) bool {
			return count(rows, "timed out") >= 1
		})
		d.mustPier("cron:suspend", name, "timeout")
		for _, r := range rows {
			if r.Status == "timed out" && (!strings.Contains(r.Output, "started") || !strings.Contains(r.Output, "timeout of 1s")) {
				t.Errorf("timed-out run's output: %q", r.Output)
			}
		}
	})

	t.Run("cron:run streams the output and returns the exit code", func(t *testing.T) {
		out, code := d.pier(nil, "cron:run", name, "fail")
		if code != 3 || !strings.Contains(out, "failing") {
			t.Errorf("cron:run fail: exit %d, output %q; want 3 and failing", code, out)
		}
		if out, code := d.pier(nil, "cron:run", name, "cron1"); code != 0 || !strings.Contains(out, "from the Procfile") {
			t.Errorf("cron:run cron1: exit %d, output %q", code, out)
		}
		if list := d.mustPier("cron:list", name); !strings.Contains(list, "failed (exit 3)") {
			t.Errorf("cron:list does not show the failure:\n%s", list)
		}
		if _, code := d.pier(nil, "cron:run", name, "nope"); code != 1 {
			t.Errorf("cron:run of an unknown entry: exit %d, want 1", code)
		}
	})

	t.Run("bad schedules reject the push and the old schedule keeps running", func(t *testing.T) {
		d.mustPier("cron:resume", name, "tick")
		for _, tc := range []struct{ entry, want string }{
			{`{"schedule": "61 * * * *", "command": "echo x"}`, "61"},
			{`{"schedule": "* * *", "command": "echo x"}`, "found 3"},
			{`{"schedule": "@daily", "command": ""}`, "no command"},
		} {
			commit(t, repo, map[string]string{"app.json": `{"cron": [` + tc.entry + `]}`})
			out, ok := d.push(repo, name, d.key)
			if ok || !strings.Contains(out, tc.want) || !strings.Contains(out, "cron") {
				t.Errorf("push of %s: ok=%v, output lacks %q:\n%s", tc.entry, ok, tc.want, out)
			}
		}
		before := count(d.cronRuns(name, "tick"), "succeeded")
		d.waitRuns(name, "tick", 15*time.Second, "ticks after rejected pushes", func(rows []cronRunRow) bool {
			return count(rows, "succeeded") >= before+2
		})
		d.mustPier("cron:suspend", name, "tick")
		commit(t, repo, cronApp(cronJSON))
	})

	t.Run("pier killed during a run: the run is marked interrupted and the schedule continues", func(t *testing.T) {
		d.mustPier("cron:resume", name, "long")
		rows := d.waitRuns(name, "long", 15*time.Second, "a running run", func(rows []cronRunRow) bool {
			return count(rows, "running") == 1
		})
		cut := rows[0].ID
		d.cmd.Process.Kill() // SIGKILL
		<-d.exited
		d.cmd = nil
		os.Remove(d.socket) // so start waits for the new daemon's
		restarted := time.Now()
		d.start()
		d.waitRuns(name, "long", 20*time.Second, "the cut run interrupted and a new one", func(rows []cronRunRow) bool {
			interrupted, after := false, false
			for _, r := range rows {
				interrupted = interrupted || r.ID == cut && r.Status == "interrupted"
				after = after || r.ID > cut && r.Started.After(restarted) && r.Status != "skipped"
			}
			return interrupted && after
		})
		d.mustPier("cron:suspend", name)
	})

	t.Run("a destroyed app's jobs stop", func(t *testing.T) {
		d.mustPier("cron:resume", name, "tick")
		d.waitRuns(name, "tick", 15*time.Second, "ticks", func(rows []cronRunRow) bool {
			return len(rows) > 0 && rows[0].Started.After(time.Now().Add(-2*time.Second))
		})
		if out, code := d.pier(strings.NewReader(name+"\n"), "apps:destroy", name); code != 0 {
			t.Fatalf("apps:destroy: exit %d\n%s", code, out)
		}
		time.Sleep(500 * time.Millisecond) // a run in flight is killed and removed
		before := d.env.Containers(t)
		time.Sleep(2500 * time.Millisecond)
		if after := d.env.Containers(t); after > before || after > 0 {
			t.Errorf("containers after destroying the app: %d, then %d; want none", before, after)
		}
	})
}

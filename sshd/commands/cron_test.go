package commands

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"pier/app"
)

// The fake's cron methods: hello has the entries cron1 and fail.

func (p *platform) cronEntry(name, id string) error {
	if err := p.known(name); err != nil {
		return err
	}
	if id != "" && id != "cron1" && id != "fail" {
		return fmt.Errorf("%s has no cron entry %q: %w", name, id, app.ErrNotFound)
	}
	return nil
}

func (p *platform) CronJobs(_ context.Context, name string) ([]app.CronJob, error) {
	if err := p.known(name); err != nil {
		return nil, err
	}
	return []app.CronJob{
		{Entry: app.CronEntry{ID: "cron1", Schedule: "*/5 * * * *", Command: "python3 batch.py"},
			Next: time.Now().Add(time.Minute),
			Last: &app.CronRun{ID: 7, Entry: "cron1", Status: app.RunSucceeded, ExitCode: 0, Started: time.Now()}},
		{Entry: app.CronEntry{ID: "fail", Schedule: "@daily", Command: "exit 3", Policy: app.CronForbid, Timezone: "Europe/Berlin"},
			Suspended: true,
			Last:      &app.CronRun{ID: 8, Entry: "fail", Status: app.RunFailed, ExitCode: 3, Started: time.Now()}},
	}, nil
}

func (p *platform) RunCronJob(_ context.Context, name, id string, out io.Writer) (int, error) {
	if err := p.cronEntry(name, id); err != nil {
		return -1, err
	}
	p.record("RunCronJob %s %s", name, id)
	fmt.Fprintf(out, "running %s\n", id)
	if id == "fail" {
		return 3, nil
	}
	return 0, nil
}

func (p *platform) CronHistory(_ context.Context, name, id string) ([]app.CronRun, error) {
	if err := p.cronEntry(name, id); err != nil {
		return nil, err
	}
	return []app.CronRun{
		{ID: 8, Entry: "fail", Trigger: app.TriggerSchedule, Status: app.RunFailed, ExitCode: 3, Output: "oops\n",
			Started: time.Now().Add(-time.Second), Ended: time.Now()},
		{ID: 7, Entry: "fail", Trigger: app.TriggerManual, Status: app.RunTimedOut, ExitCode: -1, Started: time.Now()},
	}, nil
}

func (p *platform) SuspendCron(_ context.Context, name, id string) error {
	if err := p.cronEntry(name, id); err != nil {
		return err
	}
	p.record("SuspendCron %s %q", name, id)
	return nil
}

func (p *platform) ResumeCron(_ context.Context, name, id string) error {
	if err := p.cronEntry(name, id); err != nil {
		return err
	}
	p.record("ResumeCron %s %q", name, id)
	return nil
}

// Cron commands: good arguments reach the platform as meant; bad ones exit 2
// with the usage and change nothing.
func TestCronCommands(t *testing.T) {
	tests := []opCase{
		{"list", []string{"cron:list", "hello"}, 0, "", "fail   @daily (Europe/Berlin)", ""},
		{"list shows the last exit code", []string{"cron:list", "hello"}, 0, "", "failed (exit 3)", ""},
		{"list shows suspended", []string{"cron:list", "hello"}, 0, "", "suspended", ""},
		{"list json", []string{"cron:list", "hello", "--format", "json"}, 0, "", `"concurrency_policy": "forbid"`, ""},
		{"list json exit code", []string{"cron:list", "hello", "--format", "json"}, 0, "", `"exit_code": 3`, ""},
		{"list bad format", []string{"cron:list", "hello", "--format", "yaml"}, 2, "", "", "only format is json"},
		{"list extra arg", []string{"cron:list", "hello", "cron1"}, 2, "", "", "usage: cron:list"},
		{"list unknown app", []string{"cron:list", "nope"}, 1, "", "", `app "nope" does not exist`},
		{"list bad app", []string{"cron:list", "../x"}, 2, "", "", "usage: cron:list"},
		{"run", []string{"cron:run", "hello", "cron1"}, 0, "RunCronJob hello cron1", "running cron1", ""},
		{"run passes the exit code", []string{"cron:run", "hello", "fail"}, 3, "RunCronJob hello fail", "running fail", ""},
		{"run without ID", []string{"cron:run", "hello"}, 2, "", "", "usage: cron:run APP ID"},
		{"run bad ID", []string{"cron:run", "hello", "Cron 1"}, 2, "", "", "not a cron entry ID"},
		{"run unknown ID", []string{"cron:run", "hello", "nope"}, 1, "", "", "no cron entry"},
		{"run unknown flag", []string{"cron:run", "hello", "cron1", "--now"}, 2, "", "", "unknown flag"},
		{"runs", []string{"cron:runs", "hello"}, 0, "", "timed out", ""},
		{"runs of one entry show the output", []string{"cron:runs", "hello", "fail"}, 0, "", "--- output of run 8 (failed):\noops\n", ""},
		{"runs json", []string{"cron:runs", "hello", "--format", "json"}, 0, "", `"output": "oops\n"`, ""},
		{"runs too many args", []string{"cron:runs", "hello", "a", "b"}, 2, "", "", "usage: cron:runs"},
		{"suspend all", []string{"cron:suspend", "hello"}, 0, `SuspendCron hello ""`, "Suspended every cron entry of hello", ""},
		{"suspend one", []string{"cron:suspend", "hello", "cron1"}, 0, `SuspendCron hello "cron1"`, "", ""},
		{"suspend unknown ID", []string{"cron:suspend", "hello", "nope"}, 1, "", "", "no cron entry"},
		{"suspend json is no flag", []string{"cron:suspend", "hello", "--format", "json"}, 2, "", "", "unknown flag"},
		{"resume one", []string{"cron:resume", "hello", "fail"}, 0, `ResumeCron hello "fail"`, "Resumed cron entry fail of hello", ""},
		{"resume without app", []string{"cron:resume"}, 2, "", "", "usage: cron:resume APP [ID]"},
	}
	runOpCases(t, tests, Info{Version: "test"}, func(p *platform) {
		p.apps["hello"] = app.App{Name: "hello", Release: 2}
	})
}

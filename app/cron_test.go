package app

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCronValidate(t *testing.T) {
	tests := []struct {
		name    string
		e       CronEntry
		seconds bool   // the tests' parser with an optional seconds field
		wantErr string // "" for valid
	}{
		{"five fields", CronEntry{Schedule: "*/5 * * * *"}, false, ""},
		{"ranges lists names", CronEntry{Schedule: "0 9-17 1,15 jan-jun mon-fri"}, false, ""},
		{"@hourly", CronEntry{Schedule: "@hourly"}, false, ""},
		{"@daily", CronEntry{Schedule: "@daily"}, false, ""},
		{"@weekly @monthly @yearly", CronEntry{Schedule: "@yearly"}, false, ""},
		{"@every an hour", CronEntry{Schedule: "@every 1h"}, false, ""},
		{"@every seconds refused", CronEntry{Schedule: "@every 10s"}, false, "at least 1m"},
		{"CRON_TZ prefix", CronEntry{Schedule: "CRON_TZ=Europe/Berlin 0 9 * * *"}, false, ""},
		{"timezone key", CronEntry{Schedule: "0 9 * * *", Timezone: "America/New_York"}, false, ""},
		{"unknown zone", CronEntry{Schedule: "CRON_TZ=Mars/Olympus 0 9 * * *"}, false, "unknown time zone"},
		{"unknown zone key", CronEntry{Schedule: "@daily", Timezone: "Nowhere"}, false, "unknown time zone"},
		{"zone twice", CronEntry{Schedule: "CRON_TZ=UTC @daily", Timezone: "UTC"}, false, "give one"},
		{"zone without schedule", CronEntry{Schedule: "CRON_TZ=UTC"}, false, "no schedule"},
		{"minute 61", CronEntry{Schedule: "61 * * * *"}, false, "above maximum (59): 61"},
		{"three fields", CronEntry{Schedule: "* * *"}, false, "expected exactly 5 fields, found 3"},
		{"six fields in production", CronEntry{Schedule: "*/5 * * * * *"}, false, "expected exactly 5 fields, found 6"},
		{"six fields for tests", CronEntry{Schedule: "*/5 * * * * *"}, true, ""},
		{"five fields for tests", CronEntry{Schedule: "*/5 * * * *"}, true, ""},
		{"empty schedule", CronEntry{Schedule: ""}, false, "no schedule"},
		{"unknown descriptor", CronEntry{Schedule: "@sometimes"}, false, "invalid schedule"},
		{"zero step", CronEntry{Schedule: "*/0 * * * *"}, false, "invalid schedule"},
		{"garbage", CronEntry{Schedule: "every day"}, false, "invalid schedule"},
		{"empty command", CronEntry{Schedule: "@daily", Command: " "}, false, "no command"},
		{"bad policy", CronEntry{Schedule: "@daily", Policy: "sometimes"}, false, "want allow, forbid or replace"},
		{"forbid", CronEntry{Schedule: "@daily", Policy: CronForbid}, false, ""},
		{"timeout too long", CronEntry{Schedule: "@daily", Timeout: 30 * 24 * time.Hour}, false, "timeout"},
		{"bad id", CronEntry{Schedule: "@daily", ID: "Job 1"}, false, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			if e.ID == "" {
				e.ID = "job"
			}
			if e.Command == "" {
				e.Command = "true"
			}
			err := CronParser{Seconds: tt.seconds}.validate(e)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// A schedule is read in its time zone: 09:00 in New York is 14:00 UTC in winter.
func TestCronTimezone(t *testing.T) {
	from := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	for _, e := range []CronEntry{
		{Schedule: "0 9 * * *", Timezone: "America/New_York"},
		{Schedule: "CRON_TZ=America/New_York 0 9 * * *"},
	} {
		sched, err := CronParser{}.Schedule(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sched.Next(from).UTC(), time.Date(2026, 1, 10, 14, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("%+v: next %s, want %s", e, got, want)
		}
	}
}

func TestValidateCronNamesTheEntry(t *testing.T) {
	err := CronParser{}.Validate([]CronEntry{
		{ID: "ok", Schedule: "@daily", Command: "true"},
		{ID: "cron2", Schedule: "61 * * * *", Command: "python3 batch.py"},
	})
	if err == nil || !strings.Contains(err.Error(), "cron entry cron2") || !strings.Contains(err.Error(), "61") {
		t.Fatalf("got %v, want an error naming cron2 and 61", err)
	}
	err = CronParser{}.Validate([]CronEntry{
		{ID: "a", Schedule: "@daily", Command: "true"}, {ID: "a", Schedule: "@hourly", Command: "true"},
	})
	if err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Fatalf("got %v, want a duplicate error", err)
	}
}

func TestParseProcfileCron(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantProcs map[string]string
		wantCron  []CronEntry
		wantErr   string // from validateCron
	}{
		{"piku line", "web: python3 app.py\ncron1: */5 * * * * python3 batch.py\n",
			map[string]string{"web": "python3 app.py"},
			[]CronEntry{{ID: "cron1", Schedule: "*/5 * * * *", Command: "python3 batch.py"}}, ""},
		{"descriptor", "cron-daily: @daily ./cleanup.sh --all\n", map[string]string{},
			[]CronEntry{{ID: "cron-daily", Schedule: "@daily", Command: "./cleanup.sh --all"}}, ""},
		{"@every", "cron2: @every 2h echo hi\n", map[string]string{},
			[]CronEntry{{ID: "cron2", Schedule: "@every 2h", Command: "echo hi"}}, ""},
		{"names and time zone", "cronreport: CRON_TZ=Europe/Berlin 0 9 * jan-jun mon-fri ./report\n", map[string]string{},
			[]CronEntry{{ID: "cronreport", Schedule: "CRON_TZ=Europe/Berlin 0 9 * jan-jun mon-fri", Command: "./report"}}, ""},
		{"a process named cron", "cron: python3 clock.py\n", map[string]string{"cron": "python3 clock.py"}, nil, ""},
		{"worker with digits", "worker: 2>&1 node w.js\n", map[string]string{"worker": "2>&1 node w.js"}, nil, ""},
		{"four fields is a bad entry, not a process", "cron1: */5 * * * python3 x.py\n", map[string]string{},
			[]CronEntry{{ID: "cron1", Schedule: "*/5 * * *", Command: "python3 x.py"}}, "expected exactly 5 fields, found 4"},
		{"minute 61", "cron1: 61 * * * * echo\n", map[string]string{},
			[]CronEntry{{ID: "cron1", Schedule: "61 * * * *", Command: "echo"}}, "above maximum"},
		{"no command", "cron1: */5 * * * *\n", map[string]string{},
			[]CronEntry{{ID: "cron1", Schedule: "*/5 * * * *", Command: ""}}, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs, cron, err := parseProcfile(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(procs, tt.wantProcs) {
				t.Errorf("got processes %q, want %q", procs, tt.wantProcs)
			}
			if !reflect.DeepEqual(cron, tt.wantCron) {
				t.Errorf("got cron %+v, want %+v", cron, tt.wantCron)
			}
			err = CronParser{}.Validate(cron)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseManifestCron(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []CronEntry
		wantErr string
	}{
		{"dokku entry gets a hashed id", `[{"command": "python3 report.py", "schedule": "@daily", "concurrency_policy": "forbid"}]`,
			[]CronEntry{{ID: cronID("@daily", "python3 report.py"), Schedule: "@daily", Command: "python3 report.py", Policy: CronForbid}}, ""},
		{"pier keys", `[{"id": "report", "command": "x", "schedule": "0 9 * * *", "timeout": "30m", "timezone": "Europe/Berlin", "catchup": true}]`,
			[]CronEntry{{ID: "report", Schedule: "0 9 * * *", Command: "x", Timeout: 30 * time.Minute, Timezone: "Europe/Berlin", Catchup: true}}, ""},
		{"timeout in seconds", `[{"id": "a", "command": "x", "schedule": "@daily", "timeout": 90}]`,
			[]CronEntry{{ID: "a", Schedule: "@daily", Command: "x", Timeout: 90 * time.Second}}, ""},
		{"empty", `[]`, nil, ""},
		{"not an array", `{"command": "x"}`, nil, "cron: want an array"},
		{"empty command", `[{"command": "", "schedule": "@daily"}]`, nil, "cron[0]: no command"},
		{"no schedule", `[{"command": "x"}]`, nil, "cron[0]: no schedule"},
		{"bad policy", `[{"command": "x", "schedule": "@daily", "concurrency_policy": "never"}]`, nil, `cron[0].concurrency_policy: want "allow", "forbid" or "replace"`},
		{"bad timeout", `[{"command": "x", "schedule": "@daily", "timeout": "soon"}]`, nil, `cron[0].timeout: want a duration`},
		{"zero timeout", `[{"command": "x", "schedule": "@daily", "timeout": "0s"}]`, nil, `cron[0].timeout: want from 1s`},
		{"bad id", `[{"id": "My Job", "command": "x", "schedule": "@daily"}]`, nil, `cron[0].id`},
		{"schedule not a string", `[{"command": "x", "schedule": 5}]`, nil, `cron[0].schedule: want a string`},
		{"catchup not a bool", `[{"command": "x", "schedule": "@daily", "catchup": "yes"}]`, nil, `cron[0].catchup: want true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := ParseManifest([]byte(`{"cron": ` + tt.in + `}`))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Cron, tt.want) {
				t.Errorf("got %+v, want %+v", m.Cron, tt.want)
			}
		})
	}
	// The hashed ID is stable, and differs when the command does.
	if a, b := cronID("@daily", "x"), cronID(" @daily", "x "); a != b {
		t.Errorf("cronID not stable: %q vs %q", a, b)
	}
	if a, b := cronID("@daily", "x"), cronID("@daily", "y"); a == b {
		t.Errorf("cronID(x) == cronID(y) == %q", a)
	}
}

package app

import (
	"strings"
	"testing"
	"time"
)

// A cron schedule from app.json or a Procfile is parsed with its time zone
// into a schedule or an error, never a panic; an accepted one names its
// zone if it has a prefix for one, runs at most once a minute, and its
// next run is in the future.
func FuzzCronSchedule(f *testing.F) {
	for _, s := range [][2]string{
		{"*/5 * * * *", ""},
		{"0 9-17 1,15 jan-jun mon-fri", ""},
		{"@hourly", ""},
		{"@every 1h", ""},
		{"@every 10s", ""},
		{"CRON_TZ=Europe/Berlin 0 9 * * *", ""},
		{"0 9 * * *", "America/New_York"},
		{"CRON_TZ=Mars/Olympus 0 9 * * *", ""},
		{"@daily", "Nowhere"},
		{"CRON_TZ=UTC @daily", "UTC"},
		{"CRON_TZ=UTC", ""},
		{"61 * * * *", ""},
		{"* * *", ""},
		{"*/5 * * * * *", ""},
		{"@sometimes", ""},
		{"*/0 * * * *", ""},
		{"every day", ""},
		{"0 0 30 2 *", ""},
		{"TZ=Local @daily", ""},
		{"1-0/3 * * * *", ""},
		{"CRON_TZ= 0 9 * * *", ""},
	} {
		f.Add(s[0], s[1])
	}
	from := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, schedule, tz string) {
		e := CronEntry{ID: "job", Schedule: schedule, Timezone: tz, Command: "true"}
		sched, err := CronParser{}.Schedule(e)
		if err != nil {
			if sched != nil {
				t.Fatalf("error %v with a schedule", err)
			}
			checkMessage(t, "error", err.Error())
			if verr := (CronParser{}).Validate([]CronEntry{e}); verr == nil {
				t.Fatalf("Schedule refuses %q (%v), Validate accepts it", schedule, err)
			}
			return
		}
		if err := (CronParser{}).Validate([]CronEntry{e}); err != nil {
			t.Fatalf("Schedule accepts %q, Validate refuses it: %v", schedule, err)
		}
		if rest, ok := cutTZ(strings.TrimSpace(schedule)); ok && rest[0] == "" {
			t.Fatalf("%q is accepted with no time zone after its prefix", schedule)
		}
		next := sched.Next(from)
		if next.IsZero() {
			return // never runs, as "0 0 30 2 *"
		}
		if !next.After(from) {
			t.Fatalf("%q: next run %s is not after %s", schedule, next, from)
		}
		if after := sched.Next(next); !after.IsZero() && after.Sub(next) < time.Minute {
			t.Fatalf("%q runs at %s and %s: more than once a minute", schedule, next, after)
		}
	})
}

// A Procfile line whose key starts with "cron" is a cron entry only if its
// value starts like a schedule, and the schedule and the command together
// are the value's words: nothing, a time zone prefix included, is dropped.
func FuzzProcfileCron(f *testing.F) {
	for _, s := range [][2]string{
		{"cron1", "*/5 * * * * python3 batch.py"},
		{"cron-daily", "@daily ./cleanup"},
		{"cron2", "CRON_TZ=Europe/Berlin 0 9 * * mon-fri ./report"},
		{"cron3", "@every 1h ./tick"},
		{"cronjob", "node cron.js"},
		{"cron4", "5 4 * python3 short.py"},
		{"web", "*/5 * * * * x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		e, ok := procfileCron(key, value)
		if !ok {
			return
		}
		if e.ID != key || !strings.HasPrefix(key, "cron") {
			t.Fatalf("%q: %q is a cron entry %+v", key, value, e)
		}
		want := strings.Fields(value)
		if tz, ok := strings.CutPrefix(want[0], "TZ="); ok {
			want[0] = "CRON_TZ=" + tz // the zone is kept, spelled one way
		}
		if got := strings.Fields(e.Schedule + " " + e.Command); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%q split into %q and %q", value, e.Schedule, e.Command)
		}
	})
}

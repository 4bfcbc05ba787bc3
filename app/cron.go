package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// CronEntry is one scheduled job of a release: a command run on a schedule
// in a fresh one-off container of the app's current release. Entries come
// from app.json's "cron" array (Dokku's format) and from Piku-style Procfile
// lines ("cron1: */5 * * * * python3 batch.py"); they live in the release,
// so a deploy, config change or rollback replaces the schedule as a whole.
type CronEntry struct {
	// ID names the entry in commands: the Procfile key ("cron1"), app.json's
	// "id", or else a short hash of the schedule and command.
	ID string `json:"id"`
	// Schedule is a 5-field cron expression or a descriptor (@hourly,
	// @daily, ...), optionally prefixed with CRON_TZ=Zone.
	Schedule string `json:"schedule"`
	Command  string `json:"command"` // run with /bin/sh -c
	// Policy is what a run due while the previous one still runs does.
	Policy CronPolicy `json:"concurrency_policy,omitempty"`
	// Timeout kills a run that takes longer; 0 means DefaultCronTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Timezone is the IANA zone the schedule is read in; "" means the
	// daemon's local zone (or the schedule's CRON_TZ= prefix).
	Timezone string `json:"timezone,omitempty"`
	// Catchup runs the entry once when pier starts if an instant was missed
	// since its last scheduled run (pier was down). Other misses are not
	// replayed.
	Catchup bool `json:"catchup,omitempty"`
}

// CronPolicy is Dokku's concurrency_policy.
type CronPolicy string

const (
	CronAllow   CronPolicy = "allow"   // runs may overlap (the default)
	CronForbid  CronPolicy = "forbid"  // a due run is skipped while the previous runs
	CronReplace CronPolicy = "replace" // the previous run is killed, then the new one starts
)

// Bounds of cron entries.
const (
	DefaultCronTimeout = 24 * time.Hour
	maxCronTimeout     = 7 * 24 * time.Hour
	maxCronCommand     = 4096
)

// PolicyOrDefault returns e's policy with the default applied.
func (e CronEntry) PolicyOrDefault() CronPolicy {
	if e.Policy == "" {
		return CronAllow
	}
	return e.Policy
}

// TimeoutOrDefault returns e's timeout with the default applied.
func (e CronEntry) TimeoutOrDefault() time.Duration {
	if e.Timeout <= 0 {
		return DefaultCronTimeout
	}
	return e.Timeout
}

// CronParser parses schedules: the standard 5 fields and descriptors, or,
// with Seconds (for tests only: pier serve --cron-seconds), an optional
// leading seconds field.
type CronParser struct{ Seconds bool }

func (p CronParser) parser() cron.Parser {
	if p.Seconds {
		return cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	}
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}

// Schedule parses e's schedule in its time zone. The error says what is
// wrong with it, without naming the entry.
func (p CronParser) Schedule(e CronEntry) (sched cron.Schedule, err error) {
	spec := strings.TrimSpace(e.Schedule)
	tz := e.Timezone
	if rest, ok := cutTZ(spec); ok {
		if tz != "" {
			return nil, fmt.Errorf("schedule has a CRON_TZ= prefix and the entry a timezone; give one")
		}
		if rest[0] == "" {
			return nil, fmt.Errorf("CRON_TZ= names no time zone; want an IANA name like CRON_TZ=Europe/Berlin, or no prefix")
		}
		tz, spec = rest[0], rest[1]
	}
	if spec == "" {
		return nil, fmt.Errorf("no schedule; want 5 fields like \"*/5 * * * *\" or a descriptor like @daily")
	}
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			return nil, fmt.Errorf("unknown time zone %q; want an IANA name like Europe/Berlin or UTC", trim(tz))
		}
		spec = "CRON_TZ=" + tz + " " + spec
	}
	defer func() {
		if r := recover(); r != nil { // the parser panics on some malformed input
			sched, err = nil, fmt.Errorf("invalid schedule %q", trim(e.Schedule))
		}
	}()
	sched, err = p.parser().Parse(spec)
	if err != nil {
		// The parser repeats what it refused as it is, however long and
		// newlines included (a descriptor is the whole rest of the spec).
		return nil, fmt.Errorf("invalid schedule %q: %s", trim(e.Schedule), oneLine(err.Error()))
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok && !p.Seconds && every.Delay < time.Minute {
		return nil, fmt.Errorf("invalid schedule %q: @every must be at least 1m", trim(e.Schedule))
	}
	return sched, nil
}

// cutTZ splits "CRON_TZ=Zone rest" (or TZ=) into the zone and the rest.
func cutTZ(spec string) ([2]string, bool) {
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(spec, prefix); ok {
			tz, after, _ := strings.Cut(rest, " ")
			return [2]string{tz, strings.TrimSpace(after)}, true
		}
	}
	return [2]string{}, false
}

// validate checks one entry; where says where it came from for the message
// ("app.json: cron[0]", "Procfile line 3").
func (p CronParser) validate(e CronEntry) error {
	if strings.TrimSpace(e.Command) == "" {
		return fmt.Errorf("no command")
	}
	if len(e.Command) > maxCronCommand {
		return fmt.Errorf("command is longer than %d bytes", maxCronCommand)
	}
	switch e.Policy {
	case "", CronAllow, CronForbid, CronReplace:
	default:
		return fmt.Errorf("concurrency_policy %q: want allow, forbid or replace", trim(string(e.Policy)))
	}
	if e.Timeout < 0 || e.Timeout > maxCronTimeout {
		return fmt.Errorf("timeout %s: want from 1s to %s", e.Timeout, maxCronTimeout)
	}
	if !validProcessType(e.ID) {
		return fmt.Errorf("id %q: want lowercase letters, digits, dashes and underscores", trim(e.ID))
	}
	_, err := p.Schedule(e)
	return err
}

// Validate checks a release's entries: each valid, IDs unique. The
// error names the entry and what is wrong, for the pusher.
func (p CronParser) Validate(entries []CronEntry) error {
	if len(entries) > MaxCronEntries {
		return fmt.Errorf("cron: %d entries; at most %d", len(entries), MaxCronEntries)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if err := p.validate(e); err != nil {
			return fmt.Errorf("cron entry %s (%q): %v; the push is rejected and the current schedule keeps running", e.ID, trim(e.Schedule+" "+e.Command), err)
		}
		if seen[e.ID] {
			return fmt.Errorf("cron entry %s is declared twice; give each entry its own id (or command)", e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}

// cronID is the ID of an app.json entry without an explicit "id": a short,
// stable hash of its schedule and command, so that it keeps its ID (and
// history) across deploys as long as neither changes.
func cronID(schedule, command string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(schedule) + "\n" + strings.TrimSpace(command)))
	return "c" + hex.EncodeToString(sum[:])[:7]
}

// procfileCron reads a Piku Procfile cron line's value, "*/5 * * * * cmd"
// or "@daily cmd" (optionally after CRON_TZ=Zone), into an entry. ok is
// false if the key does not start with "cron" or the value does not start
// like a schedule: then the line is an ordinary process type. A value that
// starts like a schedule but has fewer than 5 fields is an entry whose
// schedule validation rejects, rather than a process silently started.
func procfileCron(key, value string) (CronEntry, bool) {
	if !strings.HasPrefix(key, "cron") {
		return CronEntry{}, false
	}
	fields := strings.Fields(value)
	var tz string
	hasTZ := false
	if len(fields) > 0 {
		if rest, ok := cutTZ(fields[0]); ok && rest[1] == "" {
			tz, fields, hasTZ = rest[0], fields[1:], true
		}
	}
	if len(fields) == 0 {
		return CronEntry{}, false
	}
	n := 0
	switch {
	case strings.HasPrefix(fields[0], "@"):
		n = 1
		if fields[0] == "@every" {
			n = 2
		}
	case isCronField(fields[0]):
		for n < len(fields) && n < 5 && isCronField(fields[n]) {
			n++
		}
	default:
		return CronEntry{}, false
	}
	n = min(n, len(fields))
	e := CronEntry{ID: key, Schedule: strings.Join(fields[:n], " "), Command: strings.Join(fields[n:], " ")}
	if hasTZ { // an empty zone too, which validation refuses
		e.Schedule = "CRON_TZ=" + tz + " " + e.Schedule
	}
	return e, true
}

// isCronField reports whether f looks like a cron field (numbers, *, ranges,
// steps, lists, month and day names) rather than the start of a command.
func isCronField(f string) bool {
	if f == "" {
		return false
	}
	letters := false
	for _, c := range f {
		switch {
		case c >= '0' && c <= '9', c == '*', c == '/', c == '-', c == ',', c == '?':
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters = true
		default:
			return false
		}
	}
	return !letters || cronName(f)
}

// cronName reports whether f is a month or day name, or a list or range of them.
func cronName(f string) bool {
	const names = "jan feb mar apr may jun jul aug sep oct nov dec sun mon tue wed thu fri sat"
	for _, part := range strings.FieldsFunc(strings.ToLower(f), func(r rune) bool { return r == ',' || r == '-' || r == '/' }) {
		if len(part) != 3 || !strings.Contains(names, part) {
			return false
		}
	}
	return true
}

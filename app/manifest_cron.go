package app

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

var manifestCronKeys = []string{"command", "schedule", "concurrency_policy", "timeout", "timezone", "id", "catchup"}

// cron decodes app.json's "cron" array (Dokku's format) plus pier's
// optional keys: "id" (the entry's name in commands; default a hash of the
// schedule and command), "timeout" (a duration like "30m" or a number of
// seconds; default 24h), "timezone" (an IANA zone) and "catchup" (run once
// at start-up if pier was down at a scheduled instant). Schedules are checked
// later, with the daemon's parser (see CronParser.Validate); here only
// the shape and the fields' types.
func (p *manifestParser) cron(raw json.RawMessage) ([]CronEntry, error) {
	list, err := jsonArray("cron", raw, `an array of entries like {"command": "...", "schedule": "@daily"}`)
	if err != nil {
		return nil, err
	}
	if len(list) > MaxCronEntries {
		return nil, manifestError("cron", "%d entries: at most %d", len(list), MaxCronEntries)
	}
	var out []CronEntry
	for i, item := range list {
		path := fmt.Sprintf("cron[%d]", i)
		f, unknown, err := jsonFields(path, item, manifestCronKeys)
		if err != nil {
			return nil, err
		}
		p.unknown(path, unknown, manifestCronKeys)
		var e CronEntry
		for _, k := range slices.Sorted(maps.Keys(f)) {
			v, at := f[k], path+"."+k
			var s string
			switch k {
			case "command":
				e.Command, err = jsonString(at, v)
				e.Command = strings.TrimSpace(e.Command)
			case "schedule":
				e.Schedule, err = jsonString(at, v)
				e.Schedule = strings.TrimSpace(e.Schedule)
			case "concurrency_policy":
				if s, err = jsonString(at, v); err == nil {
					switch CronPolicy(s) {
					case CronAllow, CronForbid, CronReplace:
						e.Policy = CronPolicy(s)
					default:
						err = manifestError(at, `want "allow", "forbid" or "replace", got %q`, trim(s))
					}
				}
			case "timeout":
				e.Timeout, err = cronTimeout(at, v)
			case "timezone":
				e.Timezone, err = jsonString(at, v)
			case "catchup":
				e.Catchup, err = jsonBool(at, v)
			case "id":
				if s, err = jsonString(at, v); err == nil && !validProcessType(s) {
					err = manifestError(at, "want lowercase letters, digits, dashes and underscores, got %q", trim(s))
				}
				e.ID = s
			}
			if err != nil {
				return nil, err
			}
		}
		if e.Command == "" {
			return nil, manifestError(path, "no command; want e.g. {\"command\": \"python3 report.py\", \"schedule\": \"@daily\"}")
		}
		if e.Schedule == "" {
			return nil, manifestError(path, "no schedule; want 5 fields like \"*/5 * * * *\" or a descriptor like \"@daily\"")
		}
		if e.ID == "" {
			e.ID = cronID(e.Schedule, e.Command)
		}
		out = append(out, e)
	}
	return out, nil
}

// cronTimeout reads a timeout: a duration string ("30m", "1h30m") or a
// number of seconds.
func cronTimeout(path string, raw json.RawMessage) (time.Duration, error) {
	var d time.Duration
	switch jsonKind(raw) {
	case '0':
		n, err := jsonWhole(path, raw, 1, int(maxCronTimeout/time.Second))
		if err != nil {
			return 0, err
		}
		d = time.Duration(n) * time.Second
	case '"':
		s, _ := jsonString(path, raw)
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(s)); err != nil {
			return 0, manifestError(path, `want a duration like "30m" or "2h", got %q`, trim(s))
		}
	default:
		return 0, manifestTypeError(path, `a duration like "30m" or a number of seconds`, raw)
	}
	if d < time.Second || d > maxCronTimeout {
		return 0, manifestError(path, "want from 1s to %s, got %s", maxCronTimeout, d)
	}
	return d, nil
}

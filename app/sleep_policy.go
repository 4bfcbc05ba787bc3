package app

import (
	"fmt"
	"time"
)

// ParseSleepDuration reads an idle period such as "15m", "2h" or "90s":
// between 1 second and 30 days.
func ParseSleepDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want e.g. 15m, 2h or 90s", trim(s))
	}
	if d < time.Second || d > 30*24*time.Hour {
		return 0, fmt.Errorf("%s is out of range: want between 1s and 720h", d)
	}
	return d, nil
}

// SleepDefaults are the daemon's sleep policy for apps that set none.
type SleepDefaults struct {
	After     time.Duration // default 15m
	StopAfter time.Duration // default 2h
}

// WithDefaults fills in the zero durations: 15m and 2h.
func (d SleepDefaults) WithDefaults() SleepDefaults {
	if d.After == 0 {
		d.After = 15 * time.Minute
	}
	if d.StopAfter == 0 {
		d.StopAfter = 2 * time.Hour
	}
	return d
}

// SleepPolicyFor is the policy in force for a: its own (sleep:set), else
// its current release's app.json, else def; zero durations filled in.
func SleepPolicyFor(a App, rel Release, def SleepDefaults) SleepPolicy {
	var p SleepPolicy
	switch {
	case a.Sleep != nil:
		p = *a.Sleep
	case rel.Manifest.Pier.Sleep != nil:
		p = *rel.Manifest.Pier.Sleep
	}
	if p.After == 0 {
		p.After = def.After
	}
	if p.StopAfter == 0 {
		p.StopAfter = def.StopAfter
	}
	if p.StopAfter < p.After {
		p.StopAfter = p.After
	}
	return p
}

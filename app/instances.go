package app

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DefaultMaxInstances is Settings.MaxInstances's default: what a machine
// of 1 GB runs, at a few MiB of pier's own per instance.
const DefaultMaxInstances = 200

// checkInstances refuses a formation of app name that would take the
// instances of every app, together, past s.set.MaxInstances (issue 13):
// one app, or one deploy key, must not use up the machine. Every app's
// recorded formation counts, stopped and sleeping apps included, since
// they start again without a check. A formation that does not grow the
// app passes even past the cap, so that a lowered cap does not block
// redeploys. It is called before anything changes; the caller holds
// name's lock (two apps growing at once may pass together, by at most one
// formation each).
func (s *Service) checkInstances(ctx context.Context, name string, formation map[string]int) error {
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return err
	}
	want, now, others := sum(formation), 0, 0
	for _, a := range apps {
		if a.Name == name {
			now = sum(a.Formation)
			continue
		}
		others += sum(a.Formation)
	}
	if want <= now || others+want <= s.set.MaxInstances {
		return nil
	}
	return fmt.Errorf("%s at %s would take the instances of all apps from %d to %d, past the machine's cap of %d (pier serve --max-instances raises it); nothing was changed",
		name, formationText(formation), others+now, others+want, s.set.MaxInstances)
}

// formationText is formation as ps:scale takes it, sorted: "web=2 worker=1".
func formationText(formation map[string]int) string {
	var parts []string
	for _, proc := range slices.Sorted(maps.Keys(formation)) {
		parts = append(parts, fmt.Sprintf("%s=%d", proc, formation[proc]))
	}
	return strings.Join(parts, " ")
}

func sum(formation map[string]int) int {
	n := 0
	for _, v := range formation {
		n += max(v, 0)
	}
	return n
}

package node

import (
	"context"

	"pier/app"
)

// Census is what this machine runs of one app, for /metrics.
type Census struct {
	App      string
	State    app.AppState
	Restarts int
	// By process type: instances this machine should run, those that
	// run, and recent crashes.
	Wanted, Running, Crashes map[string]int
}

// Census reports every app's share on this machine.
func (n *Actuator) Census(ctx context.Context) ([]Census, error) {
	apps, err := n.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	all, err := n.runtime.Instances(ctx)
	if err != nil {
		return nil, err
	}
	running := map[string]map[string]int{}
	for _, in := range all {
		if in.Running {
			if running[in.App] == nil {
				running[in.App] = map[string]int{}
			}
			running[in.App][in.Process]++
		}
	}
	self := n.set.Self()
	out := make([]Census, 0, len(apps))
	for _, a := range apps {
		c := Census{App: a.Name, State: a.StateWith(app.Crashing(n, a)), Restarts: a.Restarts,
			Wanted: app.ShareOf(a.Formation, a.Placement, self), Running: map[string]int{}, Crashes: map[string]int{}}
		for proc := range c.Wanted {
			if a.Stopped || a.Asleep != app.Awake || a.Static && proc == "web" {
				c.Wanted[proc] = 0
			}
			c.Running[proc] = running[a.Name][proc]
			if cr, ok := n.Crash(a.Name, proc); ok {
				c.Crashes[proc] = cr.Count
			}
		}
		out = append(out, c)
	}
	return out, nil
}

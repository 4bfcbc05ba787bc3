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
	// What its running instances use: memory now, CPU time so far
	// (which starts afresh as instances are replaced); known says whether
	// any was read.
	Memory     int64
	CPUSeconds float64
	UsageKnown bool
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
	type use struct {
		mem   int64
		cpu   float64
		known bool
	}
	usage := map[string]use{}
	for _, in := range all {
		if in.Running {
			if running[in.App] == nil {
				running[in.App] = map[string]int{}
			}
			running[in.App][in.Process]++
			if n.usage != nil {
				u := usage[in.App]
				if b, ok := n.usage.InstanceMemory(in.ID); ok {
					u.mem, u.known = u.mem+b, true
				}
				if s, ok := n.usage.InstanceCPU(in.ID); ok {
					u.cpu, u.known = u.cpu+s, true
				}
				usage[in.App] = u
			}
		}
	}
	self := n.set.Self()
	out := make([]Census, 0, len(apps))
	for _, a := range apps {
		c := Census{App: a.Name, State: a.StateWith(app.Crashing(n, a)), Restarts: a.Restarts,
			Wanted: app.ShareOf(a.Formation, a.Placement, self), Running: map[string]int{}, Crashes: map[string]int{},
			Memory: usage[a.Name].mem, CPUSeconds: usage[a.Name].cpu, UsageKnown: usage[a.Name].known}
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

package node

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"pier/app"
)

// Metrics describes this machine's share of each app to Prometheus, read
// afresh at every scrape: its state, its instances wanted and running by
// process type, and its recent crashes.
func (n *Actuator) Metrics() prometheus.Collector { return metrics{n} }

type metrics struct{ n *Actuator }

var (
	stateDesc = prometheus.NewDesc("pier_app_state",
		"1 for an app's state: running, crashing, static, frozen, stopped or not-deployed.", []string{"app", "state"}, nil)
	wantedDesc = prometheus.NewDesc("pier_app_instances_wanted",
		"Instances of a process type this machine should run.", []string{"app", "process"}, nil)
	runningDesc = prometheus.NewDesc("pier_app_instances_running",
		"Instances of a process type running on this machine.", []string{"app", "process"}, nil)
	crashesDesc = prometheus.NewDesc("pier_app_crashes",
		"Recent deaths of a process type on this machine (0 once it ran stable a while).", []string{"app", "process"}, nil)
	restartsDesc = prometheus.NewDesc("pier_app_restarts_total",
		"Restarts of an app asked for (ps:restart), over its life.", []string{"app"}, nil)
)

func (metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{stateDesc, wantedDesc, runningDesc, crashesDesc, restartsDesc} {
		ch <- d
	}
}

func (m metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	apps, err := m.n.store.Apps(ctx)
	if err != nil {
		m.n.log.Warn("metrics: list apps", "err", err)
		return
	}
	all, err := m.n.runtime.Instances(ctx)
	if err != nil {
		m.n.log.Warn("metrics: list instances", "err", err)
	}
	running := map[[2]string]int{}
	for _, in := range all {
		if in.Running {
			running[[2]string{in.App, in.Process}]++
		}
	}
	self := m.n.set.Self()
	for _, a := range apps {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, 1, a.Name, a.StateWith(app.Crashing(m.n, a)).Word())
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(a.Restarts), a.Name)
		want := app.ShareOf(a.Formation, a.Placement, self)
		for proc, count := range want {
			if a.Stopped || a.Asleep != app.Awake || a.Static && proc == "web" {
				count = 0
			}
			ch <- prometheus.MustNewConstMetric(wantedDesc, prometheus.GaugeValue, float64(count), a.Name, proc)
			ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(running[[2]string{a.Name, proc}]), a.Name, proc)
			crashes := 0
			if c, ok := m.n.Crash(a.Name, proc); ok {
				crashes = c.Count
			}
			ch <- prometheus.MustNewConstMetric(crashesDesc, prometheus.GaugeValue, float64(crashes), a.Name, proc)
		}
	}
}

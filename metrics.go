package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"pier/node"
)

// appMetrics describes this machine's share of each app to Prometheus,
// read afresh from the node at every scrape.
type appMetrics struct {
	census func(ctx context.Context) ([]node.Census, error)
	log    *slog.Logger
}

var (
	appStateDesc = prometheus.NewDesc("pier_app_state",
		"1 for an app's state: running, crashing, static, frozen, stopped or not-deployed.", []string{"app", "state"}, nil)
	appWantedDesc = prometheus.NewDesc("pier_app_instances_wanted",
		"Instances of a process type this machine should run.", []string{"app", "process"}, nil)
	appRunningDesc = prometheus.NewDesc("pier_app_instances_running",
		"Instances of a process type running on this machine.", []string{"app", "process"}, nil)
	appCrashesDesc = prometheus.NewDesc("pier_app_crashes",
		"Recent deaths of a process type on this machine (0 once it ran stable a while).", []string{"app", "process"}, nil)
	appRestartsDesc = prometheus.NewDesc("pier_app_restarts_total",
		"Restarts of an app asked for (ps:restart), over its life.", []string{"app"}, nil)
)

func (appMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{appStateDesc, appWantedDesc, appRunningDesc, appCrashesDesc, appRestartsDesc} {
		ch <- d
	}
}

func (m appMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	apps, err := m.census(ctx)
	if err != nil {
		m.log.Warn("metrics of apps", "err", err)
		return
	}
	for _, a := range apps {
		ch <- prometheus.MustNewConstMetric(appStateDesc, prometheus.GaugeValue, 1, a.App, a.State.Word())
		ch <- prometheus.MustNewConstMetric(appRestartsDesc, prometheus.CounterValue, float64(a.Restarts), a.App)
		for proc, n := range a.Wanted {
			ch <- prometheus.MustNewConstMetric(appWantedDesc, prometheus.GaugeValue, float64(n), a.App, proc)
			ch <- prometheus.MustNewConstMetric(appRunningDesc, prometheus.GaugeValue, float64(a.Running[proc]), a.App, proc)
			ch <- prometheus.MustNewConstMetric(appCrashesDesc, prometheus.GaugeValue, float64(a.Crashes[proc]), a.App, proc)
		}
	}
}

package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"pier/app"
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
	appMemoryDesc = prometheus.NewDesc("pier_app_memory_bytes",
		"Memory an app's running instances on this machine use, as their cgroups count it.", []string{"app"}, nil)
	appCPUDesc = prometheus.NewDesc("pier_app_cpu_seconds",
		"CPU time an app's running instances on this machine used (it starts afresh as instances are replaced).", []string{"app"}, nil)
	appRestartsDesc = prometheus.NewDesc("pier_app_restarts_total",
		"Restarts of an app asked for (ps:restart), over its life.", []string{"app"}, nil)
)

func (appMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{appStateDesc, appWantedDesc, appRunningDesc, appCrashesDesc, appRestartsDesc, appMemoryDesc, appCPUDesc} {
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
		if a.UsageKnown {
			ch <- prometheus.MustNewConstMetric(appMemoryDesc, prometheus.GaugeValue, float64(a.Memory), a.App)
			ch <- prometheus.MustNewConstMetric(appCPUDesc, prometheus.GaugeValue, a.CPUSeconds, a.App)
		}
		for proc, n := range a.Wanted {
			ch <- prometheus.MustNewConstMetric(appWantedDesc, prometheus.GaugeValue, float64(n), a.App, proc)
			ch <- prometheus.MustNewConstMetric(appRunningDesc, prometheus.GaugeValue, float64(a.Running[proc]), a.App, proc)
			ch <- prometheus.MustNewConstMetric(appCrashesDesc, prometheus.GaugeValue, float64(a.Crashes[proc]), a.App, proc)
		}
	}
}

// deployMetrics count deploys (pushes and ps:rebuild) and their time.
type deployMetrics struct {
	count   *prometheus.CounterVec
	seconds prometheus.Histogram
}

func newDeployMetrics(reg prometheus.Registerer) deployMetrics {
	m := deployMetrics{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_deploys_total", Help: "Deploys of an app (pushes, ps:rebuild), by result: released or failed.",
		}, []string{"app", "result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pier_deploy_seconds", Help: "Time from a push's source to its release answering, or to its failure.",
			Buckets: []float64{.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 900},
		}),
	}
	reg.MustRegister(m.count, m.seconds)
	return m
}

func (m deployMetrics) observe(app string, took time.Duration, err error) {
	result := "released"
	if err != nil {
		result = "failed"
	}
	m.count.WithLabelValues(app, result).Inc()
	m.seconds.Observe(took.Seconds())
}

// Deploy is the use-case's, counted.
func (u useCases) Deploy(ctx context.Context, req app.DeployRequest) (app.Release, error) {
	start := time.Now()
	rel, err := u.Service.Deploy(ctx, req)
	if u.deploys.count != nil && app.ValidName(req.App) == nil {
		u.deploys.observe(req.App, time.Since(start), err)
	}
	return rel, err
}

// countedRuns counts cron runs by app and result as they are recorded.
type countedRuns struct {
	inner app.CronRuns
	runs  *prometheus.CounterVec
}

func newCountedRuns(runs app.CronRuns, reg prometheus.Registerer) countedRuns {
	c := countedRuns{inner: runs, runs: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pier_cron_runs_total", Help: "Cron runs by app and result (succeeded, failed, timed-out, skipped...).",
	}, []string{"app", "result"})}
	reg.MustRegister(c.runs)
	return c
}

func (c countedRuns) StartCronRun(ctx context.Context, r app.CronRun) (int64, error) {
	id, err := c.inner.StartCronRun(ctx, r)
	if err == nil && r.Status != app.RunRunning {
		c.runs.WithLabelValues(r.App, r.Status).Inc()
	}
	return id, err
}

func (c countedRuns) FinishCronRun(ctx context.Context, r app.CronRun) error {
	err := c.inner.FinishCronRun(ctx, r)
	if err == nil {
		c.runs.WithLabelValues(r.App, r.Status).Inc()
	}
	return err
}

func (c countedRuns) CronRuns(ctx context.Context, appName, entry string, limit int) ([]app.CronRun, error) {
	return c.inner.CronRuns(ctx, appName, entry, limit)
}

func (c countedRuns) InterruptCronRuns(ctx context.Context, at time.Time) (int, error) {
	return c.inner.InterruptCronRuns(ctx, at)
}

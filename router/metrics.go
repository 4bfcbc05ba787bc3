package router

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestMetrics are the per-app request metrics: requests by status class
// and their duration. Only apps in the route table get series: a Host
// header is the client's to choose and never becomes a label.
type requestMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	apps     sync.Map // app -> *appMetrics
}

// appMetrics are one app's series, looked up once so that a request costs
// no label hashing.
type appMetrics struct {
	byClass [6]prometheus.Counter // by status / 100; [0] for anything else
	seconds prometheus.Observer
	// The same, summed for Traffic.
	requests, errors, nanos atomic.Int64
}

// Traffic is what the router counted of an app's requests since it
// started: how many, how many answered 5xx, and their summed duration.
type Traffic struct {
	Requests, Errors int64
	Total            time.Duration
}

// Traffic returns app's request counts so far; zero for an app that had
// none.
func (r *Router) Traffic(app string) Traffic {
	v, ok := r.requests.apps.Load(app)
	if !ok {
		return Traffic{}
	}
	a := v.(*appMetrics)
	return Traffic{Requests: a.requests.Load(), Errors: a.errors.Load(), Total: time.Duration(a.nanos.Load())}
}

func newRequestMetrics(reg prometheus.Registerer) *requestMetrics {
	m := &requestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_http_requests_total", Help: "Requests to apps through the router, by app and status class (2xx, 4xx...).",
		}, []string{"app", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pier_http_request_duration_seconds", Help: "Time from a request's arrival to the end of its response, by app.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"app"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.seconds)
	}
	return m
}

func (m *requestMetrics) of(app string) *appMetrics {
	if a, ok := m.apps.Load(app); ok {
		return a.(*appMetrics)
	}
	a := &appMetrics{seconds: m.seconds.WithLabelValues(app)}
	a.byClass[0] = m.requests.WithLabelValues(app, "other")
	for c := 1; c <= 5; c++ {
		a.byClass[c] = m.requests.WithLabelValues(app, strconv.Itoa(c)+"xx")
	}
	got, _ := m.apps.LoadOrStore(app, a)
	return got.(*appMetrics)
}

// observe counts one finished request of app.
func (m *requestMetrics) observe(app string, w *recorder, start time.Time) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	a := m.of(app)
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	a.byClass[class].Inc()
	took := time.Since(start)
	a.seconds.Observe(took.Seconds())
	a.requests.Add(1)
	a.nanos.Add(int64(took))
	if class == 5 {
		a.errors.Add(1)
	}
}

// forget drops a deleted app's series.
func (m *requestMetrics) forget(app string) {
	m.apps.Delete(app)
	m.requests.DeletePartialMatch(prometheus.Labels{"app": app})
	m.seconds.DeletePartialMatch(prometheus.Labels{"app": app})
}

// certExpiry reports when each served host's certificate expires, read
// at every scrape.
type certExpiry struct{ r *Router }

var certExpiryDesc = prometheus.NewDesc("pier_certificate_expiry_timestamp_seconds",
	"When the certificate of a host pier serves expires (Unix time); hosts without one are left out.", []string{"host"}, nil)

func (certExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- certExpiryDesc }

func (e certExpiry) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, host := range e.r.hosts() {
		if st := e.r.Certificate(ctx, host); !st.NotAfter.IsZero() {
			ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(st.NotAfter.Unix()), host)
		}
	}
}

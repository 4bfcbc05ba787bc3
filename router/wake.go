package router

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// activity is one app's traffic as the router sees it. Requests held while
// the app wakes, open WebSockets and streaming responses are in flight until
// they end. pier's own health probes do not pass through the router and do
// not count.
type activity struct {
	inflight atomic.Int64
	last     atomic.Int64 // unix nanoseconds of the last request's start or end
}

func (r *Router) activityOf(app string) *activity {
	if a, ok := r.activity.Load(app); ok {
		return a.(*activity)
	}
	a, _ := r.activity.LoadOrStore(app, new(activity))
	return a.(*activity)
}

// Activity implements app.Activity: the requests in flight to app and when
// the last one started or ended (zero if none since the router started).
func (r *Router) Activity(app string) (inflight int64, last time.Time) {
	a := r.activityOf(app)
	if ns := a.last.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	return a.inflight.Load(), last
}

// Waker wakes a sleeping app: it returns once the app's route is awake and
// its processes answer, or an error saying why the app cannot start.
type Waker func(ctx context.Context, app string) error

// OnWake sets the function that wakes sleeping apps. Call it before
// serving; until it is set, requests for sleeping apps get the 503 page.
func (r *Router) OnWake(w Waker) { r.waker = w }

// SetAsleep implements app.Routes: an asleep app's requests are held while
// one shared wake runs, instead of going to its backends. Set keeps the flag;
// only SetAsleep changes it.
//
// A static site's route never sleeps: asleep is ignored for it.
func (r *Router) SetAsleep(app string, asleep bool) {
	r.replace(app, func(old *route) *route {
		if old != nil && old.site != nil {
			return old
		}
		rt := &route{app: app, asleep: asleep}
		if old != nil {
			rt.backends = old.backends
			if old.asleep == asleep {
				rt.asleepSince = old.asleepSince
			}
		}
		if asleep && rt.asleepSince.IsZero() {
			rt.asleepSince = time.Now()
		}
		if !asleep && old != nil && old.asleep {
			r.metrics.asleep.WithLabelValues(app).Add(time.Since(old.asleepSince).Seconds())
		}
		return rt
	})
}

// wake runs the waker for app once for all the requests that wait for it.
// The wake is not tied to any one request: a client giving up does not
// abort it for the others.
func (r *Router) wake(ctx context.Context, app string, from string) error {
	if r.waker == nil {
		return errNoWaker
	}
	ch := r.wakes.DoChan(app, func() (any, error) {
		start := time.Now()
		wctx, cancel := context.WithTimeout(context.Background(), r.wakeTimeout)
		defer cancel()
		err := r.waker(wctx, app)
		if err == nil {
			r.metrics.wakes.WithLabelValues(app).Inc()
			r.metrics.wakeSeconds.WithLabelValues(from).Observe(time.Since(start).Seconds())
		} else {
			r.log.Warn("wake failed", "app", app, "err", err)
		}
		return nil, err
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakeState is the per-router machinery for sleeping apps.
type wakeState struct {
	waker       Waker
	wakeTimeout time.Duration
	wakes       singleflight.Group
	activity    sync.Map // app -> *activity
}

// metrics are the router's Prometheus metrics.
type metrics struct {
	wakes       *prometheus.CounterVec
	wakeSeconds *prometheus.HistogramVec
	asleep      *prometheus.CounterVec
	certs       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		wakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_wakes_total", Help: "Sleeping apps woken by a request.",
		}, []string{"app"}),
		wakeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pier_wake_seconds", Help: "Time from the first held request to the app answering.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"from"}),
		asleep: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_asleep_seconds_total", Help: "Time apps spent asleep (counted when they wake).",
		}, []string{"app"}),
		certs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_certificates_total", Help: "Certificates obtained or renewed, and attempts that failed, by issuer (acme, internal).",
		}, []string{"issuer", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.wakes, m.wakeSeconds, m.asleep, m.certs)
	}
	return m
}

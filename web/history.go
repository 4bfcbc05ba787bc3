package web

import (
	"context"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"
)

// Traffic is what the router counted of an app's requests so far.
type Traffic struct {
	Requests, Errors int64
	Total            time.Duration
}

// historyPoints is how many samples a chart shows: an hour of minutes.
const historyPoints = 60

// point is one minute of an app: requests, 5xx answers, mean latency,
// memory at its end.
type point struct {
	requests, errors int64
	latency          time.Duration
	memory           int64
}

// history keeps the last hour of each app, sampled every minute from
// what pier measures already (the router's counts, the instances'
// memory). It holds historyPoints points per app, for the apps there are.
type history struct {
	traffic func(app string) Traffic
	memory  func(ctx context.Context, app string) (int64, bool)
	apps    func(ctx context.Context) ([]string, error)
	every   time.Duration

	mu   sync.Mutex
	last map[string]Traffic // totals at the last sample
	pts  map[string][]point // oldest first
}

// run samples every h.every until ctx ends.
func (h *history) run(ctx context.Context) {
	h.sample(ctx)
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.sample(ctx)
		}
	}
}

func (h *history) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	names, err := h.apps(ctx)
	if err != nil {
		return
	}
	now := map[string]point{}
	totals := map[string]Traffic{}
	for _, name := range names {
		tr := h.traffic(name)
		totals[name] = tr
		p := point{}
		if mem, ok := h.memory(ctx, name); ok {
			p.memory = mem
		}
		now[name] = p
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pts == nil {
		h.pts, h.last = map[string][]point{}, map[string]Traffic{}
	}
	for name, p := range now {
		// An app first seen counts from zero: the router's counts
		// began with pier, and the app came after.
		prev := h.last[name]
		tr := totals[name]
		if tr.Requests >= prev.Requests {
			p.requests, p.errors = tr.Requests-prev.Requests, tr.Errors-prev.Errors
			if p.requests > 0 {
				p.latency = (tr.Total - prev.Total) / time.Duration(p.requests)
			}
		}
		pts := append(h.pts[name], p)
		if len(pts) > historyPoints {
			pts = pts[len(pts)-historyPoints:]
		}
		h.pts[name] = pts
	}
	h.last = totals
	for name := range h.pts { // destroyed apps
		if _, ok := now[name]; !ok {
			delete(h.pts, name)
		}
	}
}

// charts are an app's small charts for a page.
type charts struct {
	Requests, Errors, Latency, Memory template.HTML
	// Now says the last point of each, for people and tests.
	RequestsNow, ErrorsNow int64
	LatencyNow             time.Duration
	MemoryNow              int64
}

// chartsOf renders app's last hour, the requests since the last sample
// counted as the newest point.
func (h *history) chartsOf(app string) charts {
	if h == nil {
		return charts{}
	}
	h.mu.Lock()
	pts := append([]point{}, h.pts[app]...)
	prev := h.last[app]
	h.mu.Unlock()
	if tr := h.traffic(app); tr.Requests >= prev.Requests {
		live := point{requests: tr.Requests - prev.Requests, errors: tr.Errors - prev.Errors}
		if live.requests > 0 {
			live.latency = (tr.Total - prev.Total) / time.Duration(live.requests)
		}
		if mem, ok := h.memory(context.Background(), app); ok {
			live.memory = mem
		}
		pts = append(pts, live)
		if len(pts) > historyPoints {
			pts = pts[len(pts)-historyPoints:]
		}
	}
	series := func(f func(point) float64) []float64 {
		out := make([]float64, len(pts))
		for i, p := range pts {
			out[i] = f(p)
		}
		return out
	}
	c := charts{
		Requests: sparkline("requests", series(func(p point) float64 { return float64(p.requests) })),
		Errors:   sparkline("errors", series(func(p point) float64 { return float64(p.errors) })),
		Latency:  sparkline("latency", series(func(p point) float64 { return p.latency.Seconds() })),
		Memory:   sparkline("memory", series(func(p point) float64 { return float64(p.memory) })),
	}
	if n := len(pts); n > 0 {
		last := pts[n-1]
		c.RequestsNow, c.ErrorsNow, c.LatencyNow, c.MemoryNow = last.requests, last.errors, last.latency.Round(100*time.Microsecond), last.memory
	}
	return c
}

// sparkline is a small SVG line of vs (oldest first) over a minute
// each, scaled to its own maximum, with the hour's peak in its title.
func sparkline(class string, vs []float64) template.HTML {
	const w, h = 120.0, 24.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart %s" viewBox="0 0 %g %g" width="%g" height="%g" role="img" preserveAspectRatio="none">`, class, w, h, w, h)
	peak := 0.0
	for _, v := range vs {
		peak = max(peak, v)
	}
	fmt.Fprintf(&b, `<title>%s over the last hour, peak %s</title>`, class, chartValue(class, peak))
	if len(vs) > 0 {
		b.WriteString(`<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="`)
		step := w / float64(historyPoints-1)
		x0 := w - step*float64(len(vs)-1)
		var x, y float64
		for i, v := range vs {
			x, y = x0+step*float64(i), h-1
			if peak > 0 {
				y = h - 1 - (h-2)*v/peak
			}
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		b.WriteString(`"/>`)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="1.8" fill="currentColor"/>`, min(x, w-2), y) // now
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built here from numbers only
}

func chartValue(class string, v float64) string {
	switch class {
	case "latency":
		return time.Duration(v * float64(time.Second)).Round(time.Microsecond * 100).String()
	case "memory":
		return humanBytes(int64(v))
	}
	return fmt.Sprintf("%.0f a minute", v)
}

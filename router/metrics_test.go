package router

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"pier/app"
)

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := New(Config{Log: testLog(t), Metrics: reg})
	front := serve(t, r)
	r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/missing" {
			http.NotFound(w, req)
			return
		}
		w.Write([]byte("hello"))
	})})
	get(t, front, "hello.localhost", "/", nil)
	get(t, front, "hello.localhost", "/", nil)
	get(t, front, "hello.localhost", "/missing", nil)
	get(t, front, "nope.localhost", "/", nil)
	r.SetAccess("hello", app.AccessRules{Auth: true})
	get(t, front, "hello.localhost", "/", nil) // 401

	for class, want := range map[string]float64{"2xx": 2, "4xx": 2, "5xx": 0} {
		if got := counterValue(r.requests.requests.WithLabelValues("hello", class)); got != want {
			t.Errorf("pier_http_requests_total{app=hello,code=%s} = %v, want %v", class, got, want)
		}
	}
	if n := seriesOf(t, reg, "pier_http_request_duration_seconds", "hello"); n != 1 {
		t.Errorf("%d duration series for hello, want 1", n)
	}
	if n := seriesOf(t, reg, "pier_http_requests_total", "nope"); n != 0 {
		t.Errorf("an unknown host got %d series", n)
	}
	r.Delete("hello")
	if n := seriesOf(t, reg, "pier_http_requests_total", "hello"); n != 0 {
		t.Errorf("a deleted app keeps %d series", n)
	}
}

// seriesOf counts the series of metric name labelled app.
func seriesOf(t *testing.T, reg *prometheus.Registry, name, app string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "app" && l.GetValue() == app {
					n++
				}
			}
		}
	}
	return n
}

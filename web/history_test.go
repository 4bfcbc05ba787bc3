package web

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The charts keep an hour of minutes per app, count what came since the
// last sample as the newest, and forget destroyed apps.
func TestHistory(t *testing.T) {
	var requests, errs atomic.Int64
	apps := []string{"hello"}
	h := &history{
		traffic: func(string) Traffic {
			return Traffic{Requests: requests.Load(), Errors: errs.Load(), Total: time.Duration(requests.Load()) * 2 * time.Millisecond}
		},
		memory: func(context.Context, string) (int64, bool) { return 40 << 20, true },
		apps:   func(context.Context) ([]string, error) { return apps, nil },
		every:  time.Minute,
	}
	ctx := context.Background()
	h.sample(ctx)
	requests.Add(30)
	errs.Add(3)
	c := h.chartsOf("hello")
	if c.RequestsNow != 30 || c.ErrorsNow != 3 || c.LatencyNow != 2*time.Millisecond || c.MemoryNow != 40<<20 {
		t.Errorf("now: %+v", c)
	}
	if !strings.Contains(string(c.Requests), "<polyline") || !strings.Contains(string(c.Requests), "peak 30 a minute") {
		t.Errorf("requests chart: %s", c.Requests)
	}
	for i := 0; i < 2*historyPoints; i++ {
		requests.Add(1)
		h.sample(ctx)
	}
	if n := len(h.pts["hello"]); n != historyPoints {
		t.Errorf("%d points kept, want %d", n, historyPoints)
	}
	apps = nil
	h.sample(ctx)
	if _, ok := h.pts["hello"]; ok {
		t.Error("a destroyed app's history is kept")
	}
	var none *history
	if c := none.chartsOf("hello"); c.Requests != "" {
		t.Errorf("no history, chart %q", c.Requests)
	}
}

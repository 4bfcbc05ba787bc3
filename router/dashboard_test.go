package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDashboardHost(t *testing.T) {
	r := New(Config{Domain: "example.com", Log: testLog(t)})
	r.Set("hello", nil)
	r.SetDashboard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "dashboard") }))
	tests := []struct {
		host string
		code int
		body string
	}{
		{"pier.example.com", 200, "dashboard"},
		{"PIER.example.com.:8080", 200, "dashboard"},
		{"pier.other.com", 404, ""},
		{"x.pier.example.com", 404, ""},
		{"hello.example.com", 502, ""},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tc.code || tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tc.code, tc.body)
			}
		})
	}
	if got, want := r.DashboardURL(), "http://pier.example.com"; got != want {
		t.Errorf("DashboardURL: got %q, want %q", got, want)
	}
}

package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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

func TestDashboardOverHTTPS(t *testing.T) {
	p := startPebble(t, 0)
	r, httpAddr, httpsAddr, _ := tlsRouter(t, "example.com", p, nil)
	r.SetDashboard(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, "dashboard over "+req.Proto)
	}))
	resp, body := getTLS(t, httpsAddr, "pier.example.com", p.Roots)
	if resp.StatusCode != 200 || body != "dashboard over HTTP/2.0" {
		t.Fatalf("GET https://pier.example.com: %d %q", resp.StatusCode, body)
	}
	// Once the certificate is there, plain HTTP is redirected, as for apps.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, h := getHeader(t, httpAddr, "pier.example.com", "/login")
		if want := "https://pier.example.com:" + port(httpsAddr) + "/login"; code == http.StatusPermanentRedirect && h.Get("Location") == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plain HTTP to the dashboard: %d %q, want a redirect to HTTPS", code, h.Get("Location"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

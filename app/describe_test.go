package app

import (
	"context"
	"testing"
	"time"
)

func TestAppState(t *testing.T) {
	tests := []struct {
		name                string
		app                 App
		word, label, phrase string
	}{
		{"never deployed", App{}, "not-deployed", "not deployed", "not deployed"},
		{"never deployed, stopped", App{Stopped: true}, "not-deployed", "not deployed", "not deployed"},
		{"running", App{Release: 3}, "running", "running", "running"},
		{"ps:stop", App{Release: 3, Stopped: true}, "stopped", "stopped", "stopped (ps:stop)"},
		{"ps:stop while asleep", App{Release: 3, Stopped: true, Asleep: Frozen}, "stopped", "stopped", "stopped (ps:stop)"},
		{"static site", App{Release: 3, Static: true}, "static", "static", "static site (never sleeps)"},
		{"static site, ps:stop", App{Release: 3, Static: true, Stopped: true}, "stopped", "stopped", "stopped (ps:stop)"},
		{"static site, asleep flag", App{Release: 3, Static: true, Asleep: Stopped}, "static", "static", "static site (never sleeps)"},
		{"frozen", App{Release: 3, Asleep: Frozen}, "frozen", "frozen", "frozen (asleep)"},
		{"asleep, stopped", App{Release: 3, Asleep: Stopped}, "stopped", "asleep", "stopped (asleep)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.app.State()
			if got := s.Word(); got != tt.word {
				t.Errorf("Word: got %q, want %q", got, tt.word)
			}
			if got := s.Label(); got != tt.label {
				t.Errorf("Label: got %q, want %q", got, tt.label)
			}
			if got := s.Phrase(); got != tt.phrase {
				t.Errorf("Phrase: got %q, want %q", got, tt.phrase)
			}
		})
	}
}

func TestMaskValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "********"},
		{"abc", "********"},
		{"12345678901", "********"},
		{"123456789012", "********"},
		{"0123456789abcdef", "********"},
	}
	for _, tt := range tests {
		if got := MaskValue(tt.in); got != tt.want {
			t.Errorf("MaskValue(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReportRunning(t *testing.T) {
	r := Report{Processes: []ProcessReport{
		{Type: "web", Instances: []Instance{{Running: true}, {Running: false}, {Running: true}}},
		{Type: "worker", Instances: []Instance{{Running: false}}},
		{Type: "clock"},
	}}
	if got := r.Processes[0].Running(); got != 2 {
		t.Errorf("web: got %d running, want 2", got)
	}
	if got := r.Running(); got != 2 {
		t.Errorf("all: got %d running, want 2", got)
	}
}

type certsOf map[string]CertStatus

func (c certsOf) Certificate(_ context.Context, host string) CertStatus { return c[host] }

func TestHostCertificates(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	certs := certsOf{
		"a.example": {Host: "a.example", Status: "valid", Issuer: "R3", NotAfter: exp},
		"b.example": {Host: "b.example", Status: "none"},
	}
	hosts := []string{"b.example", "a.example"}

	got := HostCertificates(context.Background(), certs, hosts)
	if len(got) != 2 || got[0] != certs["b.example"] || got[1] != certs["a.example"] {
		t.Errorf("with HTTPS: got %+v", got)
	}

	var none CertSource
	got = HostCertificates(context.Background(), none, hosts)
	want := []CertStatus{{Host: "b.example", Status: "https disabled"}, {Host: "a.example", Status: "https disabled"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("without HTTPS: got %+v, want %+v", got, want)
	}
	if got := HostCertificates(context.Background(), nil, nil); got == nil || len(got) != 0 {
		t.Errorf("no hosts: got %#v, want an empty, non-nil list", got)
	}
}

package app

import (
	"math"
	"strings"
	"testing"
)

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want float64 // MiB; -1 for an error
	}{
		{"512", 512},
		{"0", 0},
		{"16.5", 16.5},
		{"512M", 512},
		{"512m", 512},
		{"512MB", 512},
		{"512MiB", 512},
		{"512mib", 512},
		{"1G", 1024},
		{"1.5g", 1536},
		{".5G", 512},
		{"1GB", 1024},
		{"1 GiB", 1024},
		{" 64G ", 65536},
		{"+256M", 256},
		{"1e3", 1000},

		{"", -1},
		{"M", -1},
		{"G", -1},
		{"512K", -1},
		{"512KB", -1},
		{"512B", -1},
		{"512Mi", -1},
		{"5 12M", -1},
		{"-1", -1},
		{"-512M", -1},
		{"1.2.3G", -1},
		{"abc", -1},
		{"NaN", -1},
		{"Inf", -1},
		{"infinityG", -1},
		{"1e400", -1},
	}
	for _, tt := range tests {
		got, err := ParseMemory(tt.in)
		switch {
		case tt.want < 0 && err == nil:
			t.Errorf("ParseMemory(%q): got %g, want an error", tt.in, got)
		case tt.want < 0 && !strings.Contains(err.Error(), "want a size like 512M or 1G"):
			t.Errorf("ParseMemory(%q): got error %q", tt.in, err)
		case tt.want >= 0 && err != nil:
			t.Errorf("ParseMemory(%q): %v", tt.in, err)
		case tt.want >= 0 && got != tt.want:
			t.Errorf("ParseMemory(%q): got %g, want %g", tt.in, got, tt.want)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		l       Limits
		wantErr string
	}{
		{Limits{}, ""},
		{Limits{MemoryMiB: 16, CPU: 0.5}, ""},
		{Limits{MemoryMiB: 65536, CPU: 64}, ""},
		{Limits{MemoryMiB: 15}, "memory limit 15 MiB is out of range: want 16 to 65536"},
		{Limits{MemoryMiB: 65537}, "memory limit 65537 MiB is out of range: want 16 to 65536"},
		{Limits{MemoryMiB: -1}, "memory limit -1 MiB is out of range: want 16 to 65536"},
		{Limits{CPU: -0.5}, "cpu limit -0.5 is out of range: want up to 64 cores"},
		{Limits{CPU: 65}, "cpu limit 65 is out of range: want up to 64 cores"},
		{Limits{CPU: math.NaN()}, "cpu limit NaN is out of range: want up to 64 cores"},
	}
	for _, tt := range tests {
		err := tt.l.validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.wantErr {
			t.Errorf("%+v: got %q, want %q", tt.l, got, tt.wantErr)
		}
	}
}

package main

import (
	"flag"
	"strings"
	"testing"
)

func TestMaxBodyFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int64 // router.Config.MaxBodyBytes
		wantErr string
	}{
		{"default", nil, 100 << 20, ""},
		{"raised", []string{"--max-body", "500"}, 500 << 20, ""},
		{"no limit", []string{"--max-body", "0"}, -1, ""},
		{"negative", []string{"--max-body", "-1"}, 0, "--max-body must be 0 (no limit) or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			cfg.flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := cfg.validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.maxBodyBytes(); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

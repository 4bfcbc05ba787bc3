package main

import (
	"flag"
	"io"
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

func TestAllowNetFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string // runtime.NetworkConfig.AllowNets
		wantErr string
	}{
		{"default", nil, "", ""},
		{"list and repeated", []string{"--allow-net", "192.168.1.10,10.1.0.0/16", "--allow-net", "172.16.5.0/24"}, "192.168.1.10/32 10.1.0.0/16 172.16.5.0/24", ""},
		{"host bits", []string{"--allow-net", "192.168.1.10/24"}, "", "write 192.168.1.0/24 for the network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.flags(fs)
			err := fs.Parse(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range cfg.runtime().Network.AllowNets {
				got = append(got, n.String())
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
}

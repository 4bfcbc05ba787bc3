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
			cfg, ok := serveConfig(t, tt.args, tt.wantErr)
			if !ok {
				return
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

func TestResourceCapFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    [3]int // instances, cron runs, one-offs
		wantErr string
	}{
		{"defaults", nil, [3]int{200, 4, 8}, ""},
		{"raised", []string{"--max-instances", "500", "--max-cron-runs", "10", "--max-one-offs", "20"}, [3]int{500, 10, 20}, ""},
		{"zero instances", []string{"--max-instances", "0"}, [3]int{}, "--max-instances, --max-cron-runs and --max-one-offs must each be at least 1, got 0, 4 and 8"},
		{"negative one-offs", []string{"--max-one-offs", "-1"}, [3]int{}, "must each be at least 1, got 200, 4 and -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := serveConfig(t, tt.args, tt.wantErr)
			if !ok {
				return
			}
			if got := [3]int{cfg.MaxInstances, cfg.MaxCronRuns, cfg.MaxOneOffs}; got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// serveConfig parses args as pier serve's flags and validates them. With
// wantErr set, it checks that validation fails saying so, and returns
// false; otherwise validation must pass.
func serveConfig(t *testing.T, args []string, wantErr string) (Config, bool) {
	t.Helper()
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := cfg.validate()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("got error %v, want %q", err, wantErr)
		}
		return cfg, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, true
}

func TestConfigWarnings(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--domain", "example.com", "--https", ""}, "HTTPS is off"},
		{[]string{"--domain", "example.com"}, ""},
		{[]string{"--domain", "localhost", "--https", ""}, ""},
		{[]string{"--domain", "pi.home.arpa", "--https", ""}, ""},
	}
	for _, tt := range tests {
		cfg, ok := serveConfig(t, tt.args, "")
		if !ok {
			continue
		}
		got := strings.Join(cfg.warnings(), "\n")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%v: warnings %q, want %q", tt.args, got, tt.want)
		}
	}
}

package commands

import (
	"testing"

	"pier/app"
)

// resource:limit reads sizes as app.ParseMemory does and keeps the bounds.
func TestResourceLimit(t *testing.T) {
	tests := []opCase{
		{"memory with unit", []string{"resource:limit", "world", "--memory", "512M"}, 0, "SetLimits world {MemoryMiB:512 CPU:0}", "world: memory 512 MiB", ""},
		{"memory in GiB", []string{"resource:limit", "world", "--memory", "1.5G"}, 0, "SetLimits world {MemoryMiB:1536 CPU:0}", "memory 1536 MiB", ""},
		{"memory in MiB", []string{"resource:limit", "world", "--memory", "256"}, 0, "SetLimits world {MemoryMiB:256 CPU:0}", "memory 256 MiB", ""},
		{"memory fraction dropped", []string{"resource:limit", "world", "--memory", "16.5"}, 0, "SetLimits world {MemoryMiB:16 CPU:0}", "memory 16 MiB", ""},
		{"memory cleared", []string{"resource:limit", "world", "--memory", "0"}, 0, "SetLimits world {MemoryMiB:0 CPU:0}", "world: app.json's or pier's defaults", ""},
		{"memory largest", []string{"resource:limit", "world", "--memory", "64GiB"}, 0, "SetLimits world {MemoryMiB:65536 CPU:0}", "memory 65536 MiB", ""},
		{"memory too small", []string{"resource:limit", "world", "--memory", "8M"}, 2, "", "", "--memory: 8M is out of range: want 16M to 64G, or 0 to clear"},
		{"memory too large", []string{"resource:limit", "world", "--memory", "65G"}, 2, "", "", "out of range"},
		{"memory huge", []string{"resource:limit", "world", "--memory", "1e30"}, 2, "", "", "out of range"},
		{"memory unknown unit", []string{"resource:limit", "world", "--memory", "512K"}, 2, "", "", `--memory: "512K": want a size like 512M or 1G`},
		{"memory NaN", []string{"resource:limit", "world", "--memory", "NaN"}, 2, "", "", "want a size like"},
		{"memory negative", []string{"resource:limit", "world", "--memory", "-1G"}, 2, "", "", "want a size like"},
		{"cpu", []string{"resource:limit", "world", "--cpu", "0.5"}, 0, "SetLimits world {MemoryMiB:0 CPU:0.5}", "world: cpu 0.5", ""},
		{"cpu too many", []string{"resource:limit", "world", "--cpu", "65"}, 2, "", "", "from 0 to 64"},
		{"cpu NaN", []string{"resource:limit", "world", "--cpu", "NaN"}, 2, "", "", "from 0 to 64"},
		{"show", []string{"resource:limit", "world"}, 0, "", "world: app.json's or pier's defaults", ""},
	}
	runOpCases(t, tests, Info{Version: "test"}, func(p *platform) {
		p.apps["world"] = app.App{Name: "world"}
	})
}

package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReleaseStartupPages: the executable's read-only mappings are dropped
// from the process's resident set, and the code they held runs on.
func TestReleaseStartupPages(t *testing.T) {
	before := rssFile(t)
	dropped := releaseStartupPages()
	after := rssFile(t)
	if dropped == 0 {
		t.Fatal("no mapping of the executable was released")
	}
	if after >= before {
		t.Errorf("file-backed resident memory %d kB before, %d kB after", before, after)
	}
	// Code from all over the binary still runs.
	var c Config
	if err := c.validate(); err == nil {
		t.Error("an empty config validated")
	}
	t.Logf("released %d MB of mappings; file-backed resident %d kB → %d kB", dropped>>20, before, after)
}

func rssFile(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

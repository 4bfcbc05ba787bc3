package logstore

import (
	"os/exec"
	"strings"
	"testing"
)

// The log store works on plain files: it never reaches containerd.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "pier/logstore").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/containerd/") || dep == "pier/runtime" {
			t.Errorf("pier/logstore imports %s", dep)
		}
	}
}

package web

import (
	"os/exec"
	"strings"
	"testing"
)

// The dashboard reaches pier only through app: it imports none of the parts
// app drives, nor SQL or containerd.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "pier/web").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"pier/builder", "pier/runtime", "pier/router", "pier/store", "pier/sshd",
		"github.com/containerd/", "database/sql", "modernc.org/sqlite"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("pier/web imports %s", dep)
			}
		}
	}
}

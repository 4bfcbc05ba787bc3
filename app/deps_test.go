package app

import (
	"os/exec"
	"strings"
	"testing"
)

// The domain imports none of the parts it drives: they depend on it.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "pier/app").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"pier/builder", "pier/runtime", "pier/router", "pier/store", "pier/web", "pier/sshd", "pier/node",
		"github.com/containerd/", "database/sql", "net/http", "modernc.org/sqlite"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f) && strings.HasSuffix(f, "/") || strings.HasPrefix(dep, f+"/") {
				t.Errorf("pier/app imports %s", dep)
			}
		}
	}
}

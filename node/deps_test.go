package node

import (
	"os/exec"
	"strings"
	"testing"
)

// The actuator drives the other parts through the interfaces it declares:
// it imports no SQL, containerd or HTTP server, and none of the parts.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "pier/node").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"pier/builder", "pier/runtime", "pier/router", "pier/store", "pier/web", "pier/sshd",
		"github.com/containerd/", "database/sql", "net/http", "modernc.org/sqlite"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f) && strings.HasSuffix(f, "/") || strings.HasPrefix(dep, f+"/") {
				t.Errorf("pier/node imports %s", dep)
			}
		}
	}
}

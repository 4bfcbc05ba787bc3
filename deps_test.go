package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Which of pier's packages each one may import: the parts depend on the
// domain, the domain on none of them, and only main wires them together.
// A package missing here, or an import outside its list, fails the test.
var mayImport = map[string][]string{
	"pier/app":             {},
	"pier/node":            {"pier/app"},
	"pier/cron":            {"pier/app"},
	"pier/store":           {"pier/app"},
	"pier/router":          {"pier/app", "pier/ratelimit"},
	"pier/web":             {"pier/app", "pier/ratelimit"},
	"pier/sshd":            {"pier/app", "pier/appdirs", "pier/sshd/commands"},
	"pier/sshd/commands":   {"pier/app"},
	"pier/runtime":         {"pier/app", "pier/appdirs", "pier/logstore"},
	"pier/builder":         {"pier/app", "pier/runtime", "pier/scripts"},
	"pier/logstore":        {"pier/app", "pier/appdirs"},
	"pier/appdirs":         {"pier/app"},
	"pier/ratelimit":       {},
	"pier/cluster/pki":     {},
	"pier/scripts":         {},
	"pier/scripts/testlog": {},
	// The cluster.
	"pier/cluster/consensus": {"pier/app"},
	"pier/cluster":           {"pier/app", "pier/cluster/consensus", "pier/cluster/pki", "pier/cluster/members"},
	"pier/cluster/members":   {},
	// Images move between machines: the runtime's, over the cluster's TLS.
	"pier/cluster/ship": {"pier/app", "pier/runtime"},
	// Test helpers and tests.
	"pier/runtime/runtimetest": {"pier/builder", "pier/runtime", "pier/scripts"},
	"pier/router/acmetest":     {},
	"pier/e2e":                 {},
}

func TestPackageDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		if pkg == "pier" {
			continue // main wires everything
		}
		allowed, ok := mayImport[pkg]
		if !ok {
			t.Errorf("%s is not in mayImport: say which parts it may import", pkg)
			continue
		}
		for _, imp := range imports {
			if strings.HasPrefix(imp, "pier/") && !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
}

// Raft is the consensus package's business: nothing else imports it, so
// that the rest of pier sees the cluster's desired state as a store.
func TestOnlyConsensusKnowsRaft(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if f[0] == "pier/cluster/consensus" {
			continue
		}
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, "github.com/hashicorp/raft") {
				t.Errorf("%s imports %s", f[0], imp)
			}
		}
	}
}

// The domain, the use-cases, the actuator and cron reach SQL, containerd
// and HTTP only through the interfaces they declare.
func TestCoreImportsNoInfrastructure(t *testing.T) {
	forbidden := []string{"github.com/containerd/", "database/sql", "net/http", "modernc.org/sqlite"}
	for _, pkg := range []string{"pier/app", "pier/node", "pier/cron"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f) && strings.HasSuffix(f, "/") || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}

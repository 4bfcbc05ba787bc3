// Package e2e holds pier's end-to-end tests and benchmarks. TestMain builds
// the pier command from the module's root package; the tests start it
// against a private containerd and drive it with the real git and ssh
// clients and real HTTP through its router. The benchmarks need the bench
// build tag (scripts/bench.sh).
package e2e

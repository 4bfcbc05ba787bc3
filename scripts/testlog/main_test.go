package main

import (
	"bytes"
	"strings"
	"testing"
)

// A failing subtest's output is printed, a passing test's is not, and the
// slowest top-level tests come last, slowest first.
func TestRun(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestQuiet"}`,
		`{"Action":"output","Package":"p","Test":"TestQuiet","Output":"chatter of a passing test\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestQuiet","Elapsed":1.5}`,
		`{"Action":"output","Package":"p","Test":"TestBroken/case","Output":"    broken_test.go:9: want 2\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBroken/case","Elapsed":0.2}`,
		`{"Action":"output","Package":"p","Test":"TestBroken","Output":"--- FAIL: TestBroken (3.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBroken","Elapsed":3}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t4.5s\n"}`,
		`{"Action":"fail","Package":"p","Elapsed":4.5}`,
		`# p [build failed]`,
	}, "\n")
	var out bytes.Buffer
	if code := run(strings.NewReader(in), &out, 10); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	got := out.String()
	for _, want := range []string{"broken_test.go:9: want 2", "--- FAIL: TestBroken", "FAIL\tp\t4.5s", "# p [build failed]",
		"slowest tests:\n      3.0s  p.TestBroken\n      1.5s  p.TestQuiet\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "chatter") {
		t.Errorf("a passing test's output was printed:\n%s", got)
	}
}

// Command testlog reads `go test -json` on standard input and prints what
// `go test` would: each package's result line and the whole output of
// every test that failed. Then it prints the slowest tests (top level,
// with their time), so that a run's cost stays in sight. Its exit status
// is 1 if anything failed.
//
//	go test -json ./... | go run ./scripts/testlog
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of test2json's output.
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type timing struct {
	name    string
	elapsed float64
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout, 10))
}

func run(in io.Reader, out io.Writer, slowest int) int {
	outputs := map[string][]string{} // by package and test
	var times []timing
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // a build error, say: not JSON
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				// A package's own lines: its result and build or
				// panic output.
				if strings.HasPrefix(e.Output, "ok ") || strings.HasPrefix(e.Output, "FAIL") ||
					strings.HasPrefix(e.Output, "?") || strings.HasPrefix(e.Output, "panic") {
					fmt.Fprint(out, e.Output)
				} else {
					outputs[key] = append(outputs[key], e.Output)
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
		case "pass", "skip":
			if e.Test != "" && !strings.Contains(e.Test, "/") {
				times = append(times, timing{e.Package + "." + e.Test, e.Elapsed})
			}
			if e.Test != "" {
				delete(outputs, key)
			}
		case "fail":
			failed = true
			if e.Test == "" {
				// Tests that never ended (a panic, a timeout) first,
				// then the package's own lines.
				for _, k := range sortedKeys(outputs) {
					if strings.HasPrefix(k, e.Package+" ") && k != key {
						fmt.Fprint(out, strings.Join(outputs[k], ""))
						delete(outputs, k)
					}
				}
			} else if !strings.Contains(e.Test, "/") {
				times = append(times, timing{e.Package + "." + e.Test, e.Elapsed})
			}
			fmt.Fprint(out, strings.Join(outputs[key], ""))
			delete(outputs, key)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].elapsed > times[j].elapsed })
	if len(times) > slowest {
		times = times[:slowest]
	}
	fmt.Fprintln(out, "slowest tests:")
	for _, t := range times {
		fmt.Fprintf(out, "  %7.1fs  %s\n", t.elapsed, t.name)
	}
	if failed {
		return 1
	}
	return 0
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

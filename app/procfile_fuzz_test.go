package app

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A pushed Procfile yields an error or process types and cron lines that
// are within bounds, well-formed, and read back the same once written out
// again.
func FuzzParseProcfile(f *testing.F) {
	for _, s := range []string{
		"web: node server.js\nworker: node worker.js\n",
		"# comment\n\nweb:   python3 app.py  \n",
		"web: gunicorn -b 0.0.0.0:$PORT app:app\n",
		"",
		"web node server.js\n",
		"web:\n",
		"Web Server: x\n",
		"web: a\nweb: b\n",
		"web: a\r\nrelease: ./migrate\r\n",
		"cron1: */5 * * * * python3 batch.py\ncron-daily: @daily ./cleanup\n",
		"cron2: CRON_TZ=Europe/Berlin 0 9 * * mon-fri ./report\ncron3: @every 1h ./tick\n",
		"cronjob: node cron.js\ncron4: 5 4 * python3 short.py\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		procs, crons, err := parseProcfile(strings.NewReader(s))
		if err != nil {
			if procs != nil || crons != nil {
				t.Fatalf("error %v with %q and %+v", err, procs, crons)
			}
			checkMessage(t, "error", err.Error())
			if !strings.HasPrefix(err.Error(), "Procfile") {
				t.Fatalf("error %q does not name the Procfile", err)
			}
			return
		}
		if len(procs) > MaxProcessTypes || len(crons) > MaxCronEntries {
			t.Fatalf("%d process types and %d cron entries: at most %d and %d", len(procs), len(crons), MaxProcessTypes, MaxCronEntries)
		}
		for name, cmd := range procs {
			if !validProcessType(name) || cmd == "" || cmd != strings.TrimSpace(cmd) || strings.ContainsAny(cmd, "\n") {
				t.Fatalf("process %q: command %q", name, cmd)
			}
		}
		for _, e := range crons {
			if _, dup := procs[e.ID]; dup || !validProcessType(e.ID) || !strings.HasPrefix(e.ID, "cron") || e.Schedule == "" {
				t.Fatalf("cron entry %+v (process types %q)", e, procs)
			}
		}
		// Written out again, the same file is read.
		var b strings.Builder
		for _, name := range slices.Sorted(maps.Keys(procs)) {
			fmt.Fprintf(&b, "%s: %s\n", name, procs[name])
		}
		for _, e := range crons {
			fmt.Fprintf(&b, "%s: %s %s\n", e.ID, e.Schedule, e.Command)
		}
		procs2, crons2, err := parseProcfile(strings.NewReader(b.String()))
		slices.SortFunc(crons, func(a, b CronEntry) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(crons2, func(a, b CronEntry) int { return strings.Compare(a.ID, b.ID) })
		if err != nil || !reflect.DeepEqual(procs, procs2) || !slices.Equal(crons, crons2) {
			t.Fatalf("written out as %q, read back as %q, %+v, %v; want %q, %+v", b.String(), procs2, crons2, err, procs, crons)
		}
	})
}

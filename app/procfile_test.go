package app

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"web and worker", "web: node server.js\nworker: node worker.js\n",
			map[string]string{"web": "node server.js", "worker": "node worker.js"}, ""},
		{"comments and blanks", "# comment\n\nweb:   python3 app.py  \n",
			map[string]string{"web": "python3 app.py"}, ""},
		{"colons in command", "web: gunicorn -b 0.0.0.0:$PORT app:app\n",
			map[string]string{"web": "gunicorn -b 0.0.0.0:$PORT app:app"}, ""},
		{"empty file", "", map[string]string{}, ""},
		{"no colon", "web node server.js\n", nil, "line 1"},
		{"empty command", "web:\n", nil, "no command"},
		{"bad type", "Web Server: x\n", nil, "line 1"},
		{"duplicate", "web: a\nweb: b\n", nil, "declared twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcfile(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A pushed Procfile that links out of the repository is not read: its
// target's content must never reach the pusher in an error.
func TestReadProcfileLinkOut(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("root:SECRET-HASH:0:0\n"), 0o600)
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "Procfile")); err != nil {
		t.Fatal(err)
	}
	procs, _, err := readProcfile(dir)
	if err == nil || strings.Contains(err.Error(), "SECRET") || len(procs) != 0 {
		t.Fatalf("got %v, %v; want an error without the target's content", procs, err)
	}
}

// A Procfile cannot declare process types or cron lines without bound.
func TestProcfileBounded(t *testing.T) {
	var b strings.Builder
	for i := range MaxProcessTypes + 1 {
		fmt.Fprintf(&b, "p%d: sleep 1\n", i)
	}
	if _, _, err := parseProcfile(strings.NewReader(b.String())); err == nil || !strings.Contains(err.Error(), "more than 32 process types") {
		t.Errorf("%d process types: %v", MaxProcessTypes+1, err)
	}
	b.Reset()
	for i := range MaxCronEntries + 2 {
		fmt.Fprintf(&b, "cron%d: @daily true\n", i)
	}
	if _, _, err := parseProcfile(strings.NewReader(b.String())); err == nil || !strings.Contains(err.Error(), "more than 64 cron entries") {
		t.Errorf("%d cron lines: %v", MaxCronEntries+2, err)
	}
}

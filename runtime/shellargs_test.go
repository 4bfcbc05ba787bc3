package runtime

import (
	"slices"
	"testing"
)

func TestShellArgs(t *testing.T) {
	for _, c := range []struct {
		command string
		want    string
	}{
		{"python app.py", "exec python app.py"},
		{"node server.js --port $PORT", "exec node server.js --port $PORT"},
		{`gunicorn -b "0.0.0.0:$PORT" app:app`, `exec gunicorn -b "0.0.0.0:$PORT" app:app`},
		{"cd web && node server.js", "cd web && node server.js"},
		{"FOO=1 node server.js", "FOO=1 node server.js"},
		{"node a.js; node b.js", "node a.js; node b.js"},
		{"node server.js > /tmp/log", "node server.js > /tmp/log"},
		{"cd web", "cd web"},
		{"exit 7", "exit 7"},
		{"echo *", "echo *"},
	} {
		if got := shellArgs(c.command); !slices.Equal(got, []string{"/bin/sh", "-c", c.want}) {
			t.Errorf("shellArgs(%q) = %q, want %q", c.command, got, c.want)
		}
	}
}

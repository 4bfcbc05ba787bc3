package commands

import (
	"context"
	"strings"
	"testing"

	"pier/app"
)

// Config, releases, processes, storage and run: good arguments reach the
// platform as meant; bad ones exit 2 with the usage and change nothing.
func TestOperations(t *testing.T) {
	tests := []opCase{
		{"config:set", []string{"config:set", "hello", "A=1", "B=two words"}, 0, "ChangeConfig hello set=map[A:1 B:two words] unset=[] norestart=false", "", ""},
		{"config:set --no-restart", []string{"config:set", "--no-restart", "hello", "A="}, 0, "ChangeConfig hello set=map[A:] unset=[] norestart=true", "", ""},
		{"config:set without pairs", []string{"config:set", "hello"}, 2, "", "", "usage: config:set"},
		{"config:set bad pair", []string{"config:set", "hello", "A"}, 2, "", "", "want KEY=value"},
		{"config:set bad name", []string{"config:set", "hello", "1A=x"}, 2, "", "", "invalid"},
		{"config:set PORT", []string{"config:set", "hello", "PORT=1"}, 2, "", "", "set by pier"},
		{"config:set unknown flag", []string{"config:set", "hello", "--force", "A=1"}, 2, "", "", "unknown flag"},
		{"config:unset", []string{"config:unset", "hello", "A", "B"}, 0, "ChangeConfig hello set=map[] unset=[A B] norestart=false", "", ""},
		{"config:show masks", []string{"config:show", "hello"}, 0, "", "LONG_SECRET:  ********", ""},
		{"config:show --reveal", []string{"config:show", "hello", "--reveal"}, 0, "", "0123456789abcdef", ""},
		{"config:show json", []string{"config:show", "hello", "--format", "json"}, 0, "", `"SHORT": "********"`, ""},
		{"config:show bad format", []string{"config:show", "hello", "--format", "xml"}, 2, "", "", "only format is json"},
		{"config:get", []string{"config:get", "hello", "SHORT"}, 0, "", "abc", ""},
		{"config:get missing", []string{"config:get", "hello", "NOPE"}, 1, "", "", "no config var NOPE"},
		{"config on unknown app", []string{"config:show", "nope"}, 1, "", "", `app "nope" does not exist`},
		{"ps:scale", []string{"ps:scale", "hello", "web=2", "worker=0"}, 0, "Scale hello map[web:2 worker:0]", "", ""},
		{"ps:scale bad pair", []string{"ps:scale", "hello", "web"}, 2, "", "", "want TYPE=COUNT"},
		{"ps:scale too many", []string{"ps:scale", "hello", "web=500"}, 2, "", "", "between 0 and 20"},
		{"ps:scale negative", []string{"ps:scale", "hello", "web=-1"}, 2, "", "", "between 0 and"},
		{"ps:restart", []string{"ps:restart", "hello"}, 0, "Restart hello", "Restarted hello", ""},
		{"ps:restart one type", []string{"ps:restart", "hello", "worker"}, 0, "RestartType hello worker", "Restarted the worker processes of hello", ""},
		{"ps:restart too many", []string{"ps:restart", "hello", "web", "worker"}, 2, "", "", "usage: ps:restart APP [TYPE]"},
		{"ps:stop", []string{"ps:stop", "hello"}, 0, "Stop hello", "Stopped", ""},
		{"ps:start", []string{"ps:start", "hello"}, 0, "Start hello", "", ""},
		{"ps:stop bad name", []string{"ps:stop", "Hello"}, 2, "", "", "invalid"},
		{"releases", []string{"releases", "hello"}, 0, "", "v2", ""},
		{"releases:info", []string{"releases:info", "hello", "v1"}, 0, "", "node server.js", ""},
		{"releases:info missing", []string{"releases:info", "hello", "v9"}, 1, "", "", "no release v9"},
		{"releases:info bad version", []string{"releases:info", "hello", "latest"}, 2, "", "", "not a release version"},
		{"rollback", []string{"releases:rollback", "hello", "v1"}, 0, "Rollback hello v1 by alice", "", ""},
		{"rollback without v", []string{"releases:rollback", "hello", "1"}, 0, "Rollback hello v1 by alice", "", ""},
		{"rollback v0", []string{"releases:rollback", "hello", "v0"}, 2, "", "", "not a release version"},
		{"storage:mount", []string{"storage:mount", "hello", "data:/data"}, 0, "Mount hello data:/data", "", ""},
		{"storage:mount system path", []string{"storage:mount", "hello", "data:/etc/x"}, 2, "", "", "belongs to the system"},
		{"storage:mount relative", []string{"storage:mount", "hello", "data:data"}, 2, "", "", "absolute"},
		{"storage:mount no colon", []string{"storage:mount", "hello", "data"}, 2, "", "", "NAME:/path"},
		{"storage:mount bad name", []string{"storage:mount", "hello", "../x:/data"}, 2, "", "", "volume name"},
		{"storage:unmount", []string{"storage:unmount", "hello", "data"}, 0, "Unmount hello data", "", ""},
		{"storage:list", []string{"storage:list", "hello"}, 0, "", "no volumes", ""},
		{"run", []string{"run", "hello", "--", "python3", "manage.py", "migrate"}, 0, "Run hello python3 manage.py migrate", "ran python3", ""},
		{"run quotes args", []string{"run", "hello", "echo", "a b"}, 0, "Run hello echo 'a b'", "", ""},
		{"run one command line", []string{"run", "hello", "cd x && make"}, 0, "Run hello cd x && make", "", ""},
		{"run passes the exit code", []string{"run", "hello", "false"}, 1, "Run hello false", "", ""},
		{"apps:rename", []string{"apps:rename", "hello", "greeter"}, 0, "Rename hello greeter", "", ""},
		{"apps:rename to a taken name", []string{"apps:rename", "hello", "world"}, 1, "", "", "exists already"},
		{"apps:rename unknown app", []string{"apps:rename", "nope", "greeter"}, 1, "", "", `app "nope" does not exist`},
		{"apps:rename same name", []string{"apps:rename", "hello", "hello"}, 2, "", "", "name already"},
		{"apps:rename bad name", []string{"apps:rename", "hello", "Greeter"}, 2, "", "", "invalid"},
		{"apps:rename reserved", []string{"apps:rename", "hello", "pier"}, 2, "", "", "reserved"},
		{"apps:rename one name", []string{"apps:rename", "hello"}, 2, "", "", "usage: apps:rename APP NEW-NAME"},
		{"run without command", []string{"run", "hello", "--"}, 2, "", "", "no command"},
		{"checks:skip", []string{"checks:skip", "hello", "web,worker"}, 0, `SetCheckMode hello [web worker] "skip"`, "without waiting", ""},
		{"checks:disable all", []string{"checks:disable", "hello"}, 0, `SetCheckMode hello [] "disabled"`, "stop the old processes", ""},
		{"checks:enable", []string{"checks:enable", "hello", "_all_"}, 0, `SetCheckMode hello [] ""`, "check new processes before", ""},
		{"checks:skip too many", []string{"checks:skip", "hello", "web", "x"}, 2, "", "", "usage"},
		{"checks:report", []string{"checks:report", "hello"}, 0, "", "every type: enabled", ""},
		{"events -n", []string{"events", "hello", "-n", "5"}, 0, "", "", ""},
		{"events -n first", []string{"events", "-n", "5", "hello"}, 0, "", "", ""},
		{"events -n bad", []string{"events", "hello", "-n", "x"}, 2, "", "", "want a number"},
		{"storage:list --orphans", []string{"storage:list", "--orphans"}, 0, "", "old.20261203T065800.000000000Z", ""},
		{"storage:list --orphans json", []string{"storage:list", "--orphans", "--format", "json"}, 0, "", `"volumes": [`, ""},
		{"storage:purge", []string{"storage:purge", "old.x"}, 0, "PurgeOrphan old.x", "Deleted", ""},
		{"storage:purge without id", []string{"storage:purge"}, 2, "", "", "usage"},
		{"enter a shell", []string{"enter", "hello"}, 0, "Enter hello   tty=false", "", ""},
		{"enter a type", []string{"enter", "hello", "web.1", "--", "ls", "-l"}, 0, "Enter hello web ls -l tty=false", "", ""},
		{"enter a command without --", []string{"enter", "hello", "web", "ls"}, 2, "", "", "a command goes after --"},
		{"enter nothing after --", []string{"enter", "hello", "--"}, 2, "", "", "no command given"},
		{"enter a bad app", []string{"enter", "Hello"}, 2, "", "", "invalid"},
	}
	runOpCases(t, tests, Info{Version: "test"}, func(p *platform) {
		p.apps["hello"] = app.App{Name: "hello", Release: 2}
		p.apps["world"] = app.App{Name: "world"}
	})
}

// opCase is one run of the command table as alice: the exit code, the one
// platform call it must make ("" for none), and what stdout and stderr must
// contain.
type opCase struct {
	name   string
	args   []string
	code   int
	call   string
	stdout string
	stderr string
}

// runOpCases runs each case against a fresh fake platform set up by setup.
func runOpCases(t *testing.T, cases []opCase, info Info, setup func(*platform)) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			setup(p)
			var stdout, stderr strings.Builder
			code := New(p, info).Run(context.Background(), Call{User: Identity{Name: "alice"}, Args: tt.args, Stdout: &stdout, Stderr: &stderr})
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, stdout.String(), stderr.String())
			}
			switch {
			case tt.call == "" && len(p.calls) > 0:
				t.Errorf("got calls %q, want none", p.calls)
			case tt.call != "" && strings.Join(p.calls, "\n") != tt.call:
				t.Errorf("got calls %q, want %q", p.calls, tt.call)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}

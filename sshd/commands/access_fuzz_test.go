package commands

import (
	"context"
	"strings"
	"testing"

	"pier/app"
)

// fuzzCommands are command lines to start from: every command's example,
// and the shapes of arguments the tests use. Words are separated by one
// space; two spaces make an empty word.
func fuzzCommands(f *testing.F) {
	for _, c := range New(newPlatform(), Info{}).cmds {
		f.Add(c.example)
	}
	for _, s := range []string{
		"releases hello", "releases:rollback hello v1", "ps:restart hello", "logs -n 5 hello",
		"releases world", "config:show hello", "config:set hello A=1", "ps:scale hello web=2",
		"apps:destroy hello --force", "ssh-keys:add evil", "apps:list", "domains:report hello",
		"http-auth:report hello", "http-auth:disable hello", "events hello -n 20", "events -n 5",
		"events --format json hello", "logs hello --num=10000 --process=web -t", "logs --tail world",
		"logs -p hello world", "releases:info --format json hello v2", "cron:runs hello cron1 --format json",
		"ps:report --format json", "storage:list --orphans", "apps:report  hello", "help logs",
		"logs hello --help", "releases:rollback world --format hello", "cron:list hello -n world",
	} {
		f.Add(s)
	}
}

// A key limited to one app reaches that app and no other, whatever
// arguments and flags it sends: the check of which app a command names
// (appArg) must agree with each command's own parsing of its arguments.
func FuzzAppKeyScope(f *testing.F) {
	fuzzCommands(f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a command that follows (logs -t) returns at once
	f.Fuzz(func(t *testing.T, line string) {
		p := newPlatform()
		p.apps["hello"] = app.App{Name: "hello", Release: 2}
		p.apps["world"] = app.App{Name: "world", Release: 1}
		var stdout, stderr strings.Builder
		args := strings.Split(line, " ")
		code := New(p, Info{}).Run(ctx, Call{User: Identity{Name: "ci", App: "hello"}, Args: args, Stdout: &stdout, Stderr: &stderr})
		for _, a := range p.touched {
			if a != "hello" {
				t.Fatalf("%q by a key for hello reached app %q (exit %d, stderr %q)", args, a, code, stderr.String())
			}
		}
		checkRun(t, args, p, code, stderr.String())
	})
}

// An admin's command, whatever its arguments, exits 0, 1 or 2, and 2 (bad
// usage) only before anything changed; a failure ends with a "pier: " or
// "usage: " line, and bad usage says nothing else.
func FuzzCommandArgs(f *testing.F) {
	fuzzCommands(f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, line string) {
		p := newPlatform()
		p.apps["hello"] = app.App{Name: "hello", Release: 2}
		var stdout, stderr strings.Builder
		args := strings.Split(line, " ")
		code := New(p, Info{}).Run(ctx, Call{User: Identity{Name: "alice"}, Args: args, Stdout: &stdout, Stderr: &stderr})
		checkRun(t, args, p, code, stderr.String())
	})
}

func checkRun(t *testing.T, args []string, p *platform, code int, stderr string) {
	t.Helper()
	switch code {
	case exitOK, exitError:
	case exitUsage:
		if p.changes != 0 || len(p.calls) != 0 || len(p.deploys) != 0 {
			t.Fatalf("%q: exit 2 after changes %q", args, p.calls)
		}
	default:
		t.Fatalf("%q: exit %d", args, code)
	}
	if code == exitOK || stderr == "" {
		return
	}
	// A failure ends with what went wrong (a command may have asked
	// something first); bad usage is only that.
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if code == exitError {
		lines = lines[len(lines)-1:]
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "pier: ") && !strings.HasPrefix(l, "usage: ") {
			t.Fatalf("%q: exit %d, stderr %q: line %q", args, code, stderr, l)
		}
	}
}

package commands

import (
	"context"
	"strings"

	"pier/app"
)

// auditLog is where the table records every successful change.
type auditLog interface {
	Record(ctx context.Context, e app.Event)
}

// readOnly commands change nothing: they are not written to the audit log.
var readOnly = map[string]bool{
	"help": true, "version": true, "apps:list": true, "apps:report": true,
	"config:show": true, "config:get": true, "ps:report": true, "logs": true,
	"releases": true, "releases:info": true, "storage:list": true,
	"sleep:report": true, "cron:list": true, "cron:runs": true,
	"ssh-keys:list": true, "events": true, "resource:report": true,
	"ca:export": true, "domains:report": true, "http-auth:report": true,
	"cluster:status": true, "nodes:list": true, "nodes:report": true,
	"apps:exists": true, "config:keys": true, "config:export": true,
}

// forAppKeys are what a key limited to one app (ssh-keys:add NAME --app APP)
// may run, on that app only: its read commands (config values excepted: they
// hold secrets) and its deploy commands. git push is checked by the SSH
// server.
var forAppKeys = map[string]bool{
	"help": true, "version": true,
	"apps:report": true, "ps:report": true, "logs": true, "releases": true,
	"releases:info": true, "storage:list": true, "sleep:report": true,
	"cron:list": true, "cron:runs": true, "events": true, "domains:report": true,
	"http-auth:report":  true,
	"releases:rollback": true, "ps:restart": true, "ps:rebuild": true, "logs:failed": true, "apps:exists": true,
}

// permitted reports whether user may run cmd with args, and why not.
func permitted(user Identity, cmd *command, args []string) (bool, string) {
	if user.App == "" {
		return true, ""
	}
	if !forAppKeys[cmd.name] {
		return false, "this key may only deploy and read " + user.App + "; " + cmd.name + " needs an admin key"
	}
	if cmd.name == "help" || cmd.name == "version" {
		return true, ""
	}
	if target := appArg(args); target != user.App {
		return false, "this key may only deploy and read " + user.App
	}
	return true, ""
}

// appArg is the app a command's arguments name: the first that is not a flag.
func appArg(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--format" || a == "-n" || a == "-p" || a == "--num" || a == "--process":
			i++ // its value
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

// audit writes a successful change to the audit log: who ran which command
// on which app. Config values are masked.
func (t *Table) audit(ctx context.Context, user Identity, cmd *command, args []string) {
	if readOnly[cmd.name] || cmd.name == "receive" {
		return
	}
	detail := make([]string, 0, len(args))
	for i, a := range args {
		if k, _, ok := strings.Cut(a, "="); ok && strings.HasPrefix(cmd.name, "config:") {
			a = k + "=…"
		}
		if i == 2 && (cmd.name == "http-auth:add-user" || cmd.name == "http-auth:enable") {
			a = "…" // the password
		}
		if i == 1 && cmd.name == "cluster:join" {
			a = "…" // the join token
		}
		detail = append(detail, a)
	}
	appName := appArg(args)
	if cmd.name == "apps:rename" && len(args) == 2 {
		appName = args[1] // the app's history moved to its new name
	}
	if app.ValidName(appName) != nil || strings.HasPrefix(cmd.name, "ssh-keys:") || strings.HasPrefix(cmd.name, "cluster:") {
		appName = ""
	}
	t.log.Record(ctx, app.Event{Who: user.Name, App: appName, Action: cmd.name, Detail: strings.Join(detail, " ")})
}

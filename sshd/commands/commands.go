// Package commands is pier's one table of admin commands (Dokku grammar:
// "apps:create NAME"). The SSH server and the host CLI both run commands
// through a Table, so they parse, validate, answer and fail the same way.
package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"pier/app"
)

// Identity is who runs a command.
type Identity struct {
	// Name is the SSH key name, or "root" for the host CLI.
	Name string
	// Root is true only for calls that came over the daemon's root-only unix
	// socket (the host CLI and git hooks). Root may run hidden commands.
	Root bool
	// App, if set, limits the caller to that app's read and deploy commands
	// (a key added with ssh-keys:add NAME --app APP).
	App string
}

// Call is one command invocation. Args[0] is the command name. Stdin may be
// nil (read as empty); nil Stdout or Stderr discard their output.
type Call struct {
	User           Identity
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TTY is the client's terminal (ssh -t), nil without one. Only run
	// and enter use it; other commands' output has its line ends made
	// terminal ones.
	TTY *app.Terminal
}

// Platform is all the commands need of pier's domain: the union of what
// each namespace's commands use, declared next to them (appsBackend,
// configBackend, psBackend, ...). New hands each namespace only its part;
// *app.Service implements the whole.
type Platform interface {
	appsBackend
	limitsBackend
	eventsBackend
	configBackend
	psBackend
	logsBackend
	sleepBackend
	releasesBackend
	runBackend
	enterBackend
	checksBackend
	certsBackend
	cronBackend
	domainsBackend
	accessBackend
	storageBackend
	keysBackend
	deployBackend
	auditLog
}

// Info is what the commands report about this pier installation.
type Info struct {
	Version string
	// URL returns an app's public URL; nil leaves URLs out.
	URL func(app string) string
	// Dashboard sets the admin password and issues login links; nil
	// means this pier has no dashboard.
	Dashboard Dashboard
	// DashboardURLs are where the dashboard answers, without a trailing
	// slash: http://pier.<domain>, the admin listener.
	DashboardURLs []string
	// Certs reports certificates and exports pier's CA; nil when HTTPS is
	// disabled.
	Certs Certs
	// Sources exports pushed revisions for ps:rebuild; nil: none here.
	Sources Sources
	// FailedDeploys keeps failed deploys' output for logs:failed; nil:
	// it is not kept.
	FailedDeploys FailedDeploys
	// Cluster founds, joins and reports the cluster of pier machines; nil
	// means this pier was built without clustering, and the cluster:* and
	// nodes:* commands say so.
	Cluster Cluster
}

// appURL is app's public URL, or "" without Info.URL.
func (i Info) appURL(app string) string {
	if i.URL == nil {
		return ""
	}
	return i.URL(app)
}

// Exit codes of Run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one row of the table: everything help prints about a command
// and the function that runs it.
type command struct {
	name    string
	args    string // argument synopsis printed after the name, e.g. "NAME"
	summary string // one line for the help list
	example string // one full invocation for "help <cmd>"
	// hidden commands are root-only: unknown to other callers and never
	// listed by help.
	hidden bool
	// terminal commands run a process in the client's terminal (Call.TTY),
	// which writes its own line ends.
	terminal bool
	run      func(ctx context.Context, c Call, args []string) error
}

func (c *command) usage() string {
	if c.args == "" {
		return c.name
	}
	return c.name + " " + c.args
}

// Table dispatches commands. It holds no per-call state and is safe for
// concurrent use.
type Table struct {
	log  auditLog
	info Info
	cmds []*command // in help order
}

// New returns the command table over p.
func New(p Platform, info Info) *Table {
	t := &Table{log: p, info: info}
	var (
		apps     = appsCommands{p: p, url: info.appURL}
		limits   = limitsCommands{p: p}
		events   = eventsCommands{p: p}
		config   = configCommands{p: p}
		ps       = psCommands{p: p}
		logs     = logsCommands{p: p}
		sleep    = sleepCommands{p: p}
		releases = releasesCommands{p: p}
		oneOff   = runCommands{p: p}
		shells   = enterCommands{p: p}
		checks   = checksCommands{p: p}
		ownCerts = certsCommands{p: p}
		cron     = cronCommands{p: p}
		domains  = domainsCommands{p: p, certs: info.Certs}
		access   = accessCommands{p: p}
		storage  = storageCommands{p: p}
		keys     = keysCommands{p: p}
		receive  = receiveCommands{p: p, url: info.URL, src: info.Sources, failed: info.FailedDeploys}
		cluster  = clusterCommands{p: info.Cluster}
	)
	if info.Cluster == nil {
		cluster.p = noCluster{}
	}
	t.cmds = []*command{
		{name: "help", args: "[COMMAND]", summary: "list commands, or show how to use one",
			example: "help apps:create", run: t.help},
		{name: "version", summary: "print pier's version",
			example: "version", run: t.version},
		{name: "apps:list", args: "[--format json]", summary: "list apps with their release and URL",
			example: "apps:list --format json", run: apps.appsList},
		{name: "apps:create", args: "NAME", summary: "create an app (a first git push creates it too)",
			example: "apps:create hello", run: apps.appsCreate},
		{name: "apps:destroy", args: "APP [--force]", summary: "remove an app (asks for its name again unless --force)",
			example: "apps:destroy hello", run: apps.appsDestroy},
		{name: "apps:rename", args: "APP NEW-NAME", summary: "rename an app: it answers at its new name, with its releases, config, domains and data; restarts it",
			example: "apps:rename hello greeter", run: apps.appsRename},
		{name: "apps:exists", args: "APP", summary: "exit 0 if the app exists, 1 if not (for scripts)",
			example: "apps:exists hello", run: apps.appsExists},
		{name: "apps:report", args: "APP [--format json]", summary: "an app at a glance: state, release, processes, config keys, volumes, limits",
			example: "apps:report hello", run: apps.appsReport},
		{name: "resource:limit", args: "APP [--memory SIZE] [--cpu CORES]", summary: "set (or show) an app's memory and CPU limits; restarts it",
			example: "resource:limit hello --memory 512M --cpu 0.5", run: limits.resourceLimit},
		{name: "events", args: "[APP] [-n N] [--format json]", summary: "the audit log: who changed what, and when",
			example: "events hello -n 20", run: events.events},
		{name: "config:show", args: "APP [--reveal] [--format json]", summary: "show config vars (values masked unless --reveal)",
			example: "config:show hello --reveal", run: config.configShow},
		{name: "config:get", args: "APP KEY", summary: "print one config var's value",
			example: "config:get hello DATABASE_URL", run: config.configGet},
		{name: "config:keys", args: "APP", summary: "list an app's config var names",
			example: "config:keys hello", run: config.configKeys},
		{name: "config:export", args: "APP [--format exports|envfile]", summary: "print config vars as shell exports or an env file, values quoted",
			example: "config:export hello --format envfile > .env", run: config.configExport},
		{name: "config:clear", args: "APP [--no-restart]", summary: "remove every config var: a new release, rolled out with zero downtime",
			example: "config:clear hello", run: config.configClear},
		{name: "config:set", args: "APP [--no-restart] KEY=VALUE...", summary: "set config vars: a new release, rolled out with zero downtime",
			example: "config:set hello GREETING=hi DEBUG=0", run: config.configSet},
		{name: "config:unset", args: "APP [--no-restart] KEY...", summary: "remove config vars: a new release, rolled out with zero downtime",
			example: "config:unset hello DEBUG", run: config.configUnset},
		{name: "ps:scale", args: "APP TYPE=COUNT...", summary: "set how many instances of each process type run",
			example: "ps:scale hello web=2 worker=1", run: ps.psScale},
		{name: "ps:restart", args: "APP [TYPE]", summary: "replace every process (or those of one type) with a fresh one, with zero downtime",
			example: "ps:restart hello", run: ps.psRestart},
		{name: "checks:report", args: "APP", summary: "show how deploys check the app's new processes",
			example: "checks:report hello", run: checks.checksReport},
		{name: "checks:enable", args: "APP [TYPE,...]", summary: "check new processes before they take traffic (the default)",
			example: "checks:enable hello web", run: checks.checksSet("")},
		{name: "checks:skip", args: "APP [TYPE,...]", summary: "route to new processes at once, without waiting for their checks",
			example: "checks:skip hello web", run: checks.checksSet(app.CheckSkip)},
		{name: "checks:disable", args: "APP [TYPE,...]", summary: "stop old processes before new ones start, unchecked (for apps that cannot run twice)",
			example: "checks:disable hello worker", run: checks.checksSet(app.CheckDisabled)},
		{name: "ps:rebuild", args: "APP", summary: "build the running release's source again and deploy it, as a push of it would",
			example: "ps:rebuild hello", run: receive.rebuild},
		{name: "ps:stop", args: "APP", summary: "stop every process; the app stays stopped until ps:start",
			example: "ps:stop hello", run: ps.psStop},
		{name: "ps:start", args: "APP", summary: "start a stopped app's processes",
			example: "ps:start hello", run: ps.psStart},
		{name: "ps:report", args: "[APP] [--format json]", summary: "processes: wanted and running instances, crash loops (of every app without APP)",
			example: "ps:report hello", run: ps.psReport},
		{name: "logs", args: "APP [-t] [-p TYPE] [-n N]", summary: "show the last N (100) lines of an app's output; -t follows it, -p picks a process type",
			example: "logs hello -t -p web -n 20", run: logs.logs},
		{name: "logs:failed", args: "APP", summary: "show the output of the app's last failed deploy",
			example: "logs:failed hello", run: receive.logsFailed},
		{name: "sleep:set", args: "APP after=DURATION [stop_after=DURATION] | APP never", summary: "when an idle app is frozen, then stopped",
			example: "sleep:set hello after=5m stop_after=1h", run: sleep.sleepSet},
		{name: "sleep:disable", args: "APP", summary: "keep an app awake",
			example: "sleep:disable hello", run: sleep.sleepDisable},
		{name: "sleep:reset", args: "APP", summary: "back to app.json's sleep policy or pier's defaults",
			example: "sleep:reset hello", run: sleep.sleepReset},
		{name: "sleep:now", args: "APP [--stop]", summary: "freeze an app now (--stop: stop it); the next request wakes it",
			example: "sleep:now hello", run: sleep.sleepNow},
		{name: "sleep:report", args: "APP", summary: "an app's sleep state and policy",
			example: "sleep:report hello", run: sleep.sleepReport},
		{name: "releases", args: "APP [--format json]", summary: "list an app's releases, newest first",
			example: "releases hello", run: releases.releases},
		{name: "releases:info", args: "APP VERSION [--format json]", summary: "show one release",
			example: "releases:info hello v7", run: releases.releasesInfo},
		{name: "releases:rollback", args: "APP VERSION", summary: "run an earlier release's code and config again (a new release, no rebuild)",
			example: "releases:rollback hello v6", run: releases.rollback},
		{name: "run", args: "APP [--] COMMAND...", summary: "run a command in a fresh container of the app; its exit code is returned",
			example: "run hello -- python3 manage.py migrate", terminal: true, run: oneOff.run},
		{name: "enter", args: "APP [TYPE] [-- COMMAND...]", summary: "run a command (a shell without one) in a running process of the app; ssh -t for a terminal",
			example: "enter hello web -- ls /tmp", terminal: true, run: shells.enter},
		{name: "cron:list", args: "APP [--format json]", summary: "list cron entries: schedule, policy, last run and its exit code, next run",
			example: "cron:list hello", run: cron.cronList},
		{name: "cron:run", args: "APP ID", summary: "run a cron entry now; its output streams back and its exit code is returned",
			example: "cron:run hello cron1", run: cron.cronRun},
		{name: "cron:runs", args: "APP [ID] [--format json]", summary: "list recorded cron runs (with an ID, the newest run's output too)",
			example: "cron:runs hello cron1", run: cron.cronRuns},
		{name: "cron:suspend", args: "APP [ID]", summary: "stop scheduling one cron entry, or all of them, until cron:resume",
			example: "cron:suspend hello cron1", run: cron.cronSuspend},
		{name: "cron:resume", args: "APP [ID]", summary: "schedule a suspended cron entry, or all of them, again",
			example: "cron:resume hello", run: cron.cronResume},
		{name: "domains:add", args: "APP DOMAIN...", summary: "make an app answer at domains of yours too (point their DNS here); each gets a certificate",
			example: "domains:add hello www.example.com", run: domains.domainsAdd},
		{name: "domains:remove", args: "APP DOMAIN...", summary: "stop an app answering at domains",
			example: "domains:remove hello www.example.com", run: domains.domainsRemove},
		{name: "domains:set", args: "APP DOMAIN...", summary: "make an app's custom domains exactly these",
			example: "domains:set hello www.example.com example.com", run: domains.domainsSet},
		{name: "domains:clear", args: "APP", summary: "remove every custom domain of an app",
			example: "domains:clear hello", run: domains.domainsClear},
		{name: "domains:report", args: "APP [--format json]", summary: "an app's hosts with their certificates' status and expiry",
			example: "domains:report hello", run: domains.domainsReport},
		{name: "certs:add", args: "APP < CERT-AND-KEY", summary: "serve your own certificate (PEM chain and key, or a tar of them, on stdin) for the app's hosts it covers",
			example: "certs:add hello < server.pem", run: ownCerts.certsAdd},
		{name: "certs:remove", args: "APP", summary: "stop serving the app's own certificate; pier obtains its certificates again",
			example: "certs:remove hello", run: ownCerts.certsRemove},
		{name: "http-auth:enable", args: "APP [USER PASSWORD]", summary: "require a user's password (HTTP basic auth) for an app's requests",
			example: "http-auth:enable hello alice s3cret", run: access.httpAuthEnable},
		{name: "http-auth:disable", args: "APP", summary: "stop requiring a password (users and allowed networks are kept)",
			example: "http-auth:disable hello", run: access.httpAuthDisable},
		{name: "http-auth:add-user", args: "APP USER [PASSWORD]", summary: "add a user or set its password (without PASSWORD: read from stdin); kept as a bcrypt hash",
			example: "http-auth:add-user hello alice < password.txt", run: access.httpAuthAddUser},
		{name: "http-auth:remove-user", args: "APP USER", summary: "remove a user",
			example: "http-auth:remove-user hello alice", run: access.httpAuthRemoveUser},
		{name: "http-auth:add-allowed-ip", args: "APP ADDRESS|CIDR", summary: "let a network in without a password; with auth off, only allowed networks get in",
			example: "http-auth:add-allowed-ip hello 10.0.0.0/8", run: access.httpAuthAddIP},
		{name: "http-auth:remove-allowed-ip", args: "APP ADDRESS|CIDR", summary: "remove an allowed network",
			example: "http-auth:remove-allowed-ip hello 10.0.0.0/8", run: access.httpAuthRemoveIP},
		{name: "http-auth:report", args: "APP [--format json]", summary: "an app's access rules: basic auth, users, allowed networks",
			example: "http-auth:report hello", run: access.httpAuthReport},
		{name: "storage:mount", args: "APP NAME:/PATH", summary: "mount a persistent volume that outlives deploys and rollbacks",
			example: "storage:mount hello data:/data", run: storage.storageMount},
		{name: "storage:unmount", args: "APP NAME", summary: "unmount a volume (its data is kept)",
			example: "storage:unmount hello data", run: storage.storageUnmount},
		{name: "storage:list", args: "APP | --orphans [--format json]", summary: "list an app's volumes, or (--orphans) those of destroyed apps",
			example: "storage:list hello", run: storage.storageList},
		{name: "storage:purge", args: "ID", summary: "delete the orphaned volumes of a destroyed app, with their data (storage:list --orphans gives the ID)",
			example: "storage:purge hello.20261203T065800.000000000Z", run: storage.storagePurge},
		{name: "admin:password", args: "< PASSWORD", summary: "set the dashboard's admin password (one line on stdin, at least 10 characters)",
			example: "admin:password < password.txt", run: t.adminPassword},
		{name: "admin:login", summary: "print a one-time dashboard login link, valid for 15 minutes",
			example: "admin:login", run: t.adminLogin},
		{name: "ca:export", summary: "print the root certificate (PEM) of pier's CA, which signs *.localhost, .local and .internal names; trust it to browse them over HTTPS",
			example: "ca:export > pier-ca.crt", run: t.caExport},
		{name: "ssh-keys:add", args: "NAME [--app APP] < KEY.pub", summary: "allow an SSH public key (one authorized_keys line on stdin)",
			example: "ssh-keys:add alice < ~/.ssh/id_ed25519.pub", run: keys.keysAdd},
		{name: "ssh-keys:list", args: "[--format json]", summary: "list allowed SSH keys",
			example: "ssh-keys:list", run: keys.keysList},
		{name: "ssh-keys:remove", args: "NAME", summary: "revoke an SSH key",
			example: "ssh-keys:remove alice", run: keys.keysRemove},
		{name: "cluster:init", summary: "found a cluster of this one machine; others join it with cluster:token and cluster:join",
			example: "cluster:init", run: cluster.clusterInit},
		{name: "cluster:token", args: "[--role server|worker] [--ttl DURATION]", summary: "print a one-time join token (a server's unless --role worker, valid 1h unless --ttl, 1m to 24h)",
			example: "cluster:token --role worker --ttl 2h", run: cluster.clusterToken},
		{name: "cluster:join", args: "URL TOKEN", summary: "join this machine to the cluster of the machine at URL (https://HOST:PORT), with a token from cluster:token there",
			example: "cluster:join https://10.0.0.1:7946 PIER1.…", run: cluster.clusterJoin},
		{name: "cluster:leave", summary: "take this machine out of its cluster; its apps move to the others first",
			example: "cluster:leave", run: cluster.clusterLeave},
		{name: "cluster:status", args: "[--format json]", summary: "the cluster as this machine sees it: leader, voters, term, how far behind it is",
			example: "cluster:status", run: cluster.clusterStatus},
		{name: "nodes:list", args: "[--format json]", summary: "list the cluster's machines: role, state, memory, CPU load, app instances",
			example: "nodes:list", run: cluster.nodesList},
		{name: "nodes:report", args: "NODE [--format json]", summary: "one machine of the cluster at a glance",
			example: "nodes:report node1", run: cluster.nodesReport},
		{name: "receive", args: "APP REV DIR PUSHER", summary: "deploy checked-out source (git hook)",
			example: "receive hello 3f2c... /tmp/pier-hello-1 alice", hidden: true, run: receive.receive},
	}
	return t
}

// lookup finds the command name as user may see it, or nil.
func (t *Table) lookup(name string, user Identity) *command {
	if n, ok := resolveDokku(name); ok {
		name = n
	}
	for _, c := range t.cmds {
		if c.name == name && (!c.hidden || user.Root) {
			return c
		}
	}
	return nil
}

// Run runs c.Args and returns the exit code: 0 success, 1 failure, 2 unknown
// command or bad arguments (in which case nothing was changed). Errors are
// written to c.Stderr as "pier: <message>"; Run never returns them.
func (t *Table) Run(ctx context.Context, c Call) int {
	if c.Stdin == nil {
		c.Stdin = strings.NewReader("")
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	if len(c.Args) == 0 {
		t.writeList(c.Stderr, c.User)
		return exitUsage
	}
	cmd := t.lookup(c.Args[0], c.User)
	if cmd == nil {
		return report(c.Stderr, nil, t.unknownError(c.Args[0], c.User))
	}
	args := c.Args[1:]
	if cmd.name != "help" && wantsHelp(args) {
		writeUsage(c.Stdout, cmd)
		return exitOK
	}
	if c.TTY != nil {
		// A terminal's line ends are CR LF.
		c.Stderr = crlf{c.Stderr}
		if !cmd.terminal {
			c.Stdout = crlf{c.Stdout}
		}
	}
	if ok, why := permitted(c.User, cmd, args); !ok {
		return report(c.Stderr, cmd, errors.New(why))
	}
	err := cmd.run(ctx, c, args)
	if err == nil {
		t.audit(ctx, c.User, cmd, args)
	}
	return report(c.Stderr, cmd, err)
}

// crlf writes LF line ends as CR LF.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, '\n') < 0 {
		return c.w.Write(p)
	}
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
	}
	return false
}

// usageError means the arguments were wrong; nothing was done.
type usageError struct{ reason string }

func (e usageError) Error() string { return e.reason }

// badUsage returns a usageError; an empty format prints only the usage line.
func badUsage(format string, a ...any) error {
	if format == "" {
		return usageError{}
	}
	return usageError{reason: fmt.Sprintf(format, a...)}
}

// unknownCommand is a command name the caller may not see; exit 2.
type unknownCommand string

func (e unknownCommand) Error() string {
	name, near, ok := strings.Cut(string(e), "\x00")
	if ok {
		return fmt.Sprintf("unknown command %.80q; did you mean %q? run \"help\" for the list", name, near)
	}
	return fmt.Sprintf("unknown command %.80q; run \"help\" for the list", name)
}

// subjectError records what an operation was about, so that report can
// phrase the domain's sentinel errors for people.
type subjectError struct {
	kind, name string
	exists     string // text for app.ErrExists; default "<kind> "<name>" already exists"
	err        error
}

func (e *subjectError) Error() string { return e.err.Error() }
func (e *subjectError) Unwrap() error { return e.err }

func about(kind, name string, err error) error {
	if err == nil {
		return nil
	}
	return &subjectError{kind: kind, name: name, err: err}
}

// report is the one place command errors become user text. It returns the
// exit code for err; cmd is the command that failed, or nil.
func report(w io.Writer, cmd *command, err error) int {
	if err == nil {
		return exitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	var unknown unknownCommand
	if errors.As(err, &unknown) {
		fmt.Fprintf(w, "pier: %v\n", unknown)
		return exitUsage
	}
	var nh notHere
	if errors.As(err, &nh) {
		fmt.Fprintf(w, "pier: %v\n", nh)
		return exitUsage
	}
	var u usageError
	if errors.As(err, &u) {
		if u.reason != "" {
			fmt.Fprintf(w, "pier: %s\n", u.reason)
		}
		fmt.Fprintf(w, "usage: %s\n", cmd.usage())
		return exitUsage
	}
	fmt.Fprintf(w, "pier: %s\n", message(err))
	return exitError
}

func message(err error) string {
	var s *subjectError
	if errors.As(err, &s) {
		switch {
		case errors.Is(s.err, app.ErrNotFound):
			return fmt.Sprintf("%s %q does not exist", s.kind, s.name)
		case errors.Is(s.err, app.ErrExists) && s.exists != "":
			return s.exists
		case errors.Is(s.err, app.ErrExists):
			return fmt.Sprintf("%s %q already exists", s.kind, s.name)
		}
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return err.Error()
}

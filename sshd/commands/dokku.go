package commands

// Dokku's names: where pier has the same command under another name,
// Dokku's works too; where Dokku has a command pier has no need of, the
// caller is told what pier does instead; and a name that is almost a
// command's gets "did you mean".

import (
	"fmt"
	"strings"
)

// dokkuAliases map Dokku's (and Heroku's) names to pier's commands that
// do the same.
var dokkuAliases = map[string]string{
	"apps:info":      "apps:report",
	"config":         "config:show",
	"domains":        "domains:report",
	"certs:report":   "domains:report",
	"storage:report": "storage:list",
	"logs:tail":      "logs",
	"releases:list":  "releases",
	"rollback":       "releases:rollback",
}

// dokkuInstead say what pier does in place of a Dokku command it does not
// have, by the command's name or its plugin (the part before the colon).
var dokkuInstead = map[string]string{
	"letsencrypt":    "certificates are automatic in pier: every app's host and custom domain gets one when it is routed, and renewals run in the background; domains:report shows them",
	"proxy":          "pier's router serves every app on the HTTP and HTTPS ports itself; the app listens on $PORT",
	"nginx":          "pier has no nginx: its own router routes, terminates TLS and serves static sites",
	"plugin":         "pier has no plugins: what Dokku's plugins do is built in (help lists it)",
	"git:sync":       "deploy with git push to pier (git push pier main)",
	"git:from-image": "pier builds from source: git push pier main",
	"docker-options": "pier runs apps with containerd, not Docker: resource:limit sets memory and CPU, storage:mount adds volumes",
	"builder":        "pier detects how to build an app (Procfile, static site) on every push",
	"buildpacks":     "pier needs no buildpacks: a Procfile says what to run, on pier's base image",
	"scheduler":      "pier schedules apps itself, on one machine or a cluster (cluster:init)",
	"network":        "every app gets its own network namespace; the router reaches it on $PORT",
}

// resolveDokku returns the pier command a Dokku name stands for, if any.
func resolveDokku(name string) (string, bool) {
	n, ok := dokkuAliases[name]
	return n, ok
}

// insteadOf says what pier does in place of a Dokku command it lacks; "".
func insteadOf(name string) string {
	if s, ok := dokkuInstead[name]; ok {
		return s
	}
	plugin, _, _ := strings.Cut(name, ":")
	return dokkuInstead[plugin]
}

// unknownError is the error for a command name nobody has: what pier does
// instead of a Dokku command, or the nearest visible command's name.
func (t *Table) unknownError(name string, user Identity) error {
	if s := insteadOf(name); s != "" {
		return notHere{name: name, instead: s}
	}
	best, bestD := "", 3
	for _, c := range t.cmds {
		if c.hidden && !user.Root {
			continue
		}
		if d := editDistance(name, c.name); d < bestD {
			best, bestD = c.name, d
		}
	}
	if best != "" && len(name) > 2 {
		return unknownCommand(name + "\x00" + best)
	}
	return unknownCommand(name)
}

// notHere is a Dokku command pier has no need of; exit 2.
type notHere struct{ name, instead string }

func (e notHere) Error() string {
	return fmt.Sprintf("pier has no %.80q: %s", e.name, e.instead)
}

// editDistance is the Levenshtein distance of a and b, bytewise; names are
// short.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

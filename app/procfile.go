package app

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// ParseProcfile reads a Heroku Procfile: one `type: command` per line, blank
// lines and #-comments ignored. Process types are lowercase letters, digits,
// dashes and underscores. A malformed line is an error naming the line.
// Piku's cron lines (see parseProcfile) are not process types and are left
// out.
func ParseProcfile(r io.Reader) (map[string]string, error) {
	procs, _, err := parseProcfile(r)
	return procs, err
}

// An app has at most MaxProcessTypes process types and MaxCronEntries cron
// entries (Procfile and app.json together): each type and entry costs
// pier a schedule, containers and state.
const (
	MaxProcessTypes = 32
	MaxCronEntries  = 64
)

// parseProcfile is ParseProcfile that also returns Piku's cron lines: a key
// starting with "cron" whose value starts with a schedule
// ("cron1: */5 * * * * python3 batch.py", "cron-daily: @daily ./cleanup")
// is a cron entry with the key as its ID. The entries are not validated
// here (see CronParser.Validate).
func parseProcfile(r io.Reader) (map[string]string, []CronEntry, error) {
	procs := map[string]string{}
	var crons []CronEntry
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
		if !ok || !validProcessType(name) {
			return nil, nil, fmt.Errorf("Procfile line %d: want `type: command` with a lowercase process type, got %q", n, trim(line))
		}
		if cmd == "" {
			return nil, nil, fmt.Errorf("Procfile line %d: process %q has no command", n, name)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("Procfile line %d: process %q is declared twice", n, name)
		}
		seen[name] = true
		if e, ok := procfileCron(name, cmd); ok {
			if crons = append(crons, e); len(crons) > MaxCronEntries {
				return nil, nil, fmt.Errorf("Procfile line %d: more than %d cron entries", n, MaxCronEntries)
			}
			continue
		}
		procs[name] = cmd
		if len(procs) > MaxProcessTypes {
			return nil, nil, fmt.Errorf("Procfile line %d: more than %d process types; run the others from one process, or as cron entries", n, MaxProcessTypes)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("Procfile: %w", err)
	}
	return procs, crons, nil
}

func validProcessType(s string) bool {
	if s == "" || len(s) > 30 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// readProcfile parses dir/Procfile into process types and cron entries; a
// missing Procfile is an empty one. See ReadSourceFile for why it may not
// link out of dir.
func readProcfile(dir string) (map[string]string, []CronEntry, error) {
	b, ok, err := ReadSourceFile(dir, "Procfile", 64<<10)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return map[string]string{}, nil, nil
	}
	return parseProcfile(bytes.NewReader(b))
}

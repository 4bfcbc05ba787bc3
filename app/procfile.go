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
func ParseProcfile(r io.Reader) (map[string]string, error) {
	procs := map[string]string{}
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
			return nil, fmt.Errorf("Procfile line %d: want `type: command` with a lowercase process type, got %q", n, trim(line))
		}
		if cmd == "" {
			return nil, fmt.Errorf("Procfile line %d: process %q has no command", n, name)
		}
		if _, dup := procs[name]; dup {
			return nil, fmt.Errorf("Procfile line %d: process %q is declared twice", n, name)
		}
		procs[name] = cmd
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("Procfile: %w", err)
	}
	return procs, nil
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

// readProcfile parses dir/Procfile; a missing Procfile is an empty one. See
// ReadSourceFile for why it may not link out of dir.
func readProcfile(dir string) (map[string]string, error) {
	b, ok, err := ReadSourceFile(dir, "Procfile", 64<<10)
	if err != nil {
		return nil, err
	}
	if !ok {
		return map[string]string{}, nil
	}
	return ParseProcfile(bytes.NewReader(b))
}

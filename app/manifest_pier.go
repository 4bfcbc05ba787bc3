package app

// Parsing of app.json's "pier" key: pier's own settings.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

func (p *manifestParser) pier(raw json.RawMessage) (s PierSettings, err error) {
	known := []string{"memory", "cpu", "sleep", "access", "node_labels"}
	f, unknown, err := jsonFields("pier", raw, known)
	if err != nil {
		return s, err
	}
	p.unknown("pier", unknown, known)
	if v, ok := f["memory"]; ok {
		if s.MemoryMiB, err = parseMemory("pier.memory", v); err != nil {
			return PierSettings{}, err
		}
	}
	if v, ok := f["cpu"]; ok {
		if s.CPU, err = parseCPU("pier.cpu", v); err != nil {
			return PierSettings{}, err
		}
	}
	if v, ok := f["sleep"]; ok {
		if s.Sleep, err = p.sleep(v); err != nil {
			return PierSettings{}, err
		}
	}
	if v, ok := f["access"]; ok {
		if s.Access, err = p.access(v); err != nil {
			return PierSettings{}, err
		}
	}
	if v, ok := f["node_labels"]; ok {
		if err := json.Unmarshal(v, &s.NodeLabels); err != nil || jsonKind(v) != '{' {
			return PierSettings{}, manifestError("pier.node_labels", `want an object of labels, like {"disk": "ssd"}`)
		}
		if err := ValidNodeLabels(s.NodeLabels); err != nil {
			return PierSettings{}, manifestError("pier.node_labels", "%v", err)
		}
	}
	return s, nil
}

// access reads pier.access: {"allow": ["10.0.0.0/8", "192.0.2.7"]}.
func (p *manifestParser) access(raw json.RawMessage) (*AccessSettings, error) {
	known := []string{"allow"}
	f, unknown, err := jsonFields("pier.access", raw, known)
	if err != nil {
		return nil, err
	}
	p.unknown("pier.access", unknown, known)
	var a AccessSettings
	if v, ok := f["allow"]; ok {
		items, err := jsonArray("pier.access.allow", v, "addresses or networks")
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			path := fmt.Sprintf("pier.access.allow[%d]", i)
			str, err := jsonString(path, it)
			if err != nil {
				return nil, err
			}
			pfx, err := ParsePrefix(str)
			if err != nil {
				return nil, manifestError(path, "%v", err)
			}
			a.Allow = append(a.Allow, pfx.String())
		}
	}
	return &a, nil
}

// sleep reads pier.sleep: "never", or {"after": "15m", "stop_after": "2h"}.
func (p *manifestParser) sleep(raw json.RawMessage) (*SleepPolicy, error) {
	if jsonKind(raw) == '"' {
		v, _ := jsonString("pier.sleep", raw)
		if v != "never" {
			return nil, manifestError("pier.sleep", `want "never" or an object like {"after": "15m", "stop_after": "2h"}, got %q`, v)
		}
		return &SleepPolicy{Never: true}, nil
	}
	known := []string{"after", "stop_after"}
	f, unknown, err := jsonFields("pier.sleep", raw, known)
	if err != nil {
		return nil, err
	}
	p.unknown("pier.sleep", unknown, known)
	var pol SleepPolicy
	for _, k := range known {
		v, ok := f[k]
		if !ok {
			continue
		}
		str, err := jsonString("pier.sleep."+k, v)
		if err != nil {
			return nil, err
		}
		d, err := ParseSleepDuration(str)
		if err != nil {
			return nil, manifestError("pier.sleep."+k, "%v", err)
		}
		if k == "after" {
			pol.After = d
		} else {
			pol.StopAfter = d
		}
	}
	return &pol, nil
}

// parseMemory reads a number of MiB or a string with a unit: M, MB and MiB all
// mean MiB, G, GB and GiB mean GiB, in any case ("512M", "1.5g", "1 GiB").
func parseMemory(path string, raw json.RawMessage) (int, error) {
	var mib float64
	switch jsonKind(raw) {
	case '0':
		mib = jsonFloat(raw)
	case '"':
		s, _ := jsonString(path, raw)
		var err error
		// A string carries its unit: a bare number of MiB is a JSON number.
		if !hasUnit(s) {
			err = errors.New("no unit")
		} else {
			mib, err = ParseMemory(s)
		}
		if err != nil {
			return 0, manifestError(path, `want a size like "512M" or "1G", got %q`, trim(s))
		}
	default:
		return 0, manifestTypeError(path, `a number of MiB or a size like "512M"`, raw)
	}
	switch {
	case mib < MinMemoryMiB:
		return 0, manifestError(path, "%g MiB is too small; want at least %d MiB", mib, MinMemoryMiB)
	case mib > MaxMemoryMiB:
		return 0, manifestError(path, "%g MiB is too large; want at most %d MiB (64G)", mib, MaxMemoryMiB)
	case mib != math.Trunc(mib):
		return 0, manifestError(path, "want a whole number of MiB, got %s", jsonDescribe(raw))
	}
	return int(mib), nil
}

// hasUnit reports whether a size ends in a letter, as "512M" does.
func hasUnit(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && unicode.IsLetter(rune(s[len(s)-1]))
}

// parseCPU reads a number of cores, as a number or a string ("0.5").
func parseCPU(path string, raw json.RawMessage) (float64, error) {
	var n float64
	switch jsonKind(raw) {
	case '0':
		n = jsonFloat(raw)
	case '"':
		s, _ := jsonString(path, raw)
		var err error
		if n, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, manifestError(path, "want a number of cores like 0.5 or 2, got %q", trim(s))
		}
	default:
		return 0, manifestTypeError(path, "a number of cores like 0.5 or 2", raw)
	}
	if !(n > 0 && n <= MaxCPU) { // also rejects NaN from "NaN"
		return 0, manifestError(path, "want more than 0 and at most %d cores, got %s", MaxCPU, jsonDescribe(raw))
	}
	return n, nil
}

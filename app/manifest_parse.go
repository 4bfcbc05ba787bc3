package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxManifestBytes bounds the app.json readManifest will read: the file comes
// from the pushed source, and a huge one must not cost the daemon its memory.
const maxManifestBytes = 1 << 20

// ParseManifest parses an app.json in Dokku's format (a superset of Heroku's).
//
// Unknown keys are not errors: each yields a warning such as
// `app.json: unknown key "foo" ignored`, and so does each Dokku or Heroku
// feature pier does not act on (addons, buildpacks, scripts other than
// scripts.dokku.predeploy/postdeploy, formation sizes, unsupported checks).
// Keys that only describe the app (name, description, keywords, website,
// repository, logo, success_url, stack, image, environments, a check's
// description) are ignored silently. Warnings are sorted. A malformed file is
// an error naming the file, the key path and what is wrong:
//
//	app.json: healthchecks.web[0].attempts: want a whole number, got "three"
//	app.json: line 4, column 12: invalid JSON: invalid character '}' ...
//
// On error m is the zero Manifest and warnings is nil.
//
// Rules worth knowing:
//   - Fixed keys match case-insensitively, as encoding/json matches struct
//     fields (and so as Dokku reads them); the exact spelling wins a tie.
//     Process types and env names are matched exactly.
//   - A null value is the same as an absent key.
//   - Every kept health check is complete: Type "startup", Path "/",
//     Attempts 3, Wait 5, Timeout 5 unless given. Attempts, Timeout and Port
//     of 0 mean "not set"; an explicit Wait of 0 is kept.
//   - Checks pier cannot run (command, listening, uptime and https checks) are
//     dropped with a warning rather than run as an HTTP check on "/".
//   - A process type whose checks were all dropped, and a formation entry
//     without a quantity, are absent from the maps. Empty maps are nil.
//   - EnvVar.Required is false unless the file says true (Heroku's default
//     of true is not applied).
func ParseManifest(b []byte) (m Manifest, warnings []string, err error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // editors on Windows add a BOM
	if len(bytes.TrimSpace(b)) == 0 {
		return Manifest{}, nil, errors.New("app.json: file is empty")
	}
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Manifest{}, nil, manifestSyntaxError(b, err)
	}
	var p manifestParser
	if m, err = p.manifest(raw); err != nil {
		return Manifest{}, nil, err
	}
	slices.Sort(p.warnings)
	return m, p.warnings, nil
}

// readManifest reads dir/app.json; a missing file (or dir) is the zero
// Manifest with no warnings. app.json may be a symlink only to a file inside
// dir, so a pushed repository cannot make pier read, and echo back in an
// error, a file of the host; files over 1 MiB are an error.
func readManifest(dir string) (Manifest, []string, error) {
	b, ok, err := ReadSourceFile(dir, "app.json", maxManifestBytes)
	if err != nil || !ok {
		return Manifest{}, nil, err
	}
	return ParseManifest(b)
}

// manifestSyntaxError turns an encoding/json error into one with a line and column.
func manifestSyntaxError(b []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("app.json: invalid JSON: %v", err)
	}
	// Offset counts the bytes read, the offending one included; a file cut
	// short is reported at its end.
	off := min(max(int(se.Offset)-1, 0), len(b))
	if strings.HasPrefix(se.Error(), "unexpected end") {
		off = len(b)
	}
	before := b[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return fmt.Errorf("app.json: line %d, column %d: invalid JSON: %s", line, col, se.Error())
}

var (
	manifestTopKeys = []string{
		"healthchecks", "scripts", "formation", "env", "pier", "cron",
		"addons", "buildpacks", // warned
		"name", "description", "keywords", "website", "repository", "logo", // silent
		"success_url", "stack", "image", "environments",
	}
	manifestCheckKeys = []string{
		"type", "name", "path", "port", "attempts", "wait", "timeout", "content", "initialDelay",
		"description", "command", "listening", "uptime", "scheme", "warn", "onFailure", "httpHeaders",
	}
	manifestFormationKeys = []string{"quantity", "size", "max_parallel", "autoscaling", "service"}
	manifestEnvKeys       = []string{"description", "required", "value", "generator"}
)

// Bounds of numeric settings. The upper ones only keep values sane (and
// durations clear of overflow when turned into time.Duration).
const (
	manifestMaxAttempts  = 1000
	manifestMaxSeconds   = 86400
	manifestMaxQuantity  = MaxScale
	manifestMinMemoryMiB = 16
	manifestMaxMemoryMiB = 65536
	manifestMaxCPU       = 64
)

// manifestParser collects warnings while the manifest is decoded.
type manifestParser struct {
	warnings []string
}

func (p *manifestParser) warn(path, msg string) {
	if path != "" {
		msg = path + ": " + msg
	}
	p.warnings = append(p.warnings, "app.json: "+msg)
}

// unknown warns about each key that is not in known.
func (p *manifestParser) unknown(path string, keys, known []string) {
	for _, k := range keys {
		msg := fmt.Sprintf("unknown key %q ignored", trim(k))
		if s := suggestKey(k, known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		p.warn(path, msg)
	}
}

func (p *manifestParser) manifest(raw json.RawMessage) (m Manifest, err error) {
	if jsonKind(raw) != '{' {
		return m, fmt.Errorf("app.json: want a JSON object at the top level, got %s", jsonDescribe(raw))
	}
	f, unknown, err := jsonFields("", raw, manifestTopKeys)
	if err != nil {
		return m, err
	}
	p.unknown("", unknown, manifestTopKeys)
	for _, k := range slices.Sorted(maps.Keys(f)) {
		v := f[k]
		switch k {
		case "healthchecks":
			m.Healthchecks, err = p.healthchecks(v)
		case "scripts":
			m.Scripts, err = p.scripts(v)
		case "formation":
			m.Formation, err = p.formation(v)
		case "env":
			m.Env, err = p.env(v)
		case "pier":
			m.Pier, err = p.pier(v)
		case "cron":
			m.Cron, err = p.cron(v)
		case "addons":
			if !jsonBlank(v) {
				p.warn(k, "pier does not provision add-ons; ignored")
			}
		case "buildpacks":
			if !jsonBlank(v) {
				p.warn(k, "pier works out how to build the app from its files; ignored")
			}
		}
		if err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

func (p *manifestParser) healthchecks(raw json.RawMessage) (map[string][]HealthCheck, error) {
	procs, err := jsonObject("healthchecks", raw)
	if err != nil {
		return nil, err
	}
	var out map[string][]HealthCheck
	for _, pt := range slices.Sorted(maps.Keys(procs)) {
		if !validProcessType(pt) {
			return nil, processTypeError("healthchecks", pt)
		}
		path := "healthchecks." + pt
		list, err := jsonArray(path, procs[pt], "an array of checks")
		if err != nil {
			return nil, err
		}
		for i, c := range list {
			hc, keep, err := p.healthcheck(fmt.Sprintf("%s[%d]", path, i), c)
			if err != nil {
				return nil, err
			}
			if keep {
				if out == nil {
					out = map[string][]HealthCheck{}
				}
				out[pt] = append(out[pt], hc)
			}
		}
	}
	return out, nil
}

// healthcheck decodes one check; keep is false for a check pier cannot run.
func (p *manifestParser) healthcheck(path string, raw json.RawMessage) (hc HealthCheck, keep bool, err error) {
	f, unknown, err := jsonFields(path, raw, manifestCheckKeys)
	if err != nil {
		return hc, false, err
	}
	p.unknown(path, unknown, manifestCheckKeys)
	hc = HealthCheck{Type: "startup", Path: "/", Attempts: 3, Wait: 5, Timeout: 5}
	keep = true
	drop := func(at, msg string) { p.warn(at, msg); keep = false }
	for _, k := range slices.Sorted(maps.Keys(f)) {
		v, at := f[k], path+"."+k
		var s string
		var n int
		var b bool
		switch k {
		case "type":
			if s, err = jsonString(at, v); err == nil && s != "" {
				if s != "startup" && s != "readiness" && s != "liveness" {
					err = manifestError(at, `want "startup", "readiness" or "liveness", got %q`, trim(s))
				}
				hc.Type = s
			}
		case "name":
			hc.Name, err = jsonString(at, v)
		case "content":
			hc.Content, err = jsonString(at, v)
		case "path":
			if s, err = jsonString(at, v); err == nil && s != "" {
				if !strings.HasPrefix(s, "/") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
					err = manifestError(at, `want a URL path starting with "/", got %q`, trim(s))
				}
				hc.Path = s
			}
		case "port":
			if n, err = jsonOptionalWhole(at, v, 1, 65535); n != 0 {
				hc.Port = n
			}
		case "attempts":
			if n, err = jsonOptionalWhole(at, v, 1, manifestMaxAttempts); n != 0 {
				hc.Attempts = n
			}
		case "timeout":
			if n, err = jsonOptionalWhole(at, v, 1, manifestMaxSeconds); n != 0 {
				hc.Timeout = n
			}
		case "wait":
			hc.Wait, err = jsonWhole(at, v, 0, manifestMaxSeconds)
		case "initialDelay":
			hc.InitialDelay, err = jsonWhole(at, v, 0, manifestMaxSeconds)
		case "description": // documentation only
		case "command":
			if !jsonBlank(v) {
				drop(at, "command checks are not supported; ignored")
			}
		case "listening":
			if b, err = jsonBool(at, v); b {
				drop(at, "listening checks are not supported; ignored")
			}
		case "uptime":
			if n, err = jsonWhole(at, v, 0, manifestMaxSeconds); n != 0 {
				drop(at, "uptime checks are not supported; ignored")
			}
		case "scheme":
			if s, err = jsonString(at, v); err == nil {
				switch strings.ToLower(s) {
				case "", "http":
				case "https":
					drop(at, "https checks are not supported; ignored")
				default:
					err = manifestError(at, `want "http" or "https", got %q`, trim(s))
				}
			}
		case "warn":
			if b, err = jsonBool(at, v); b {
				p.warn(at, "not supported; a failing check still fails the deploy")
			}
		case "onFailure", "httpHeaders":
			if !jsonBlank(v) {
				p.warn(at, "not supported; ignored")
			}
		}
		if err != nil {
			return HealthCheck{}, false, err
		}
	}
	return hc, keep, nil
}

func (p *manifestParser) scripts(raw json.RawMessage) (s Scripts, err error) {
	f, unknown, err := jsonFields("scripts", raw, []string{"dokku"})
	if err != nil {
		return s, err
	}
	for _, k := range unknown {
		p.warn(manifestKeyPath("scripts", k), "not supported (pier runs scripts.dokku.predeploy and scripts.dokku.postdeploy); ignored")
	}
	v, ok := f["dokku"]
	if !ok {
		return s, nil
	}
	d, unknown, err := jsonFields("scripts.dokku", v, []string{"predeploy", "postdeploy"})
	if err != nil {
		return s, err
	}
	for _, k := range unknown {
		p.warn(manifestKeyPath("scripts.dokku", k), "not supported; ignored")
	}
	if v, ok := d["predeploy"]; ok {
		if s.Predeploy, err = jsonString("scripts.dokku.predeploy", v); err != nil {
			return Scripts{}, err
		}
	}
	if v, ok := d["postdeploy"]; ok {
		if s.Postdeploy, err = jsonString("scripts.dokku.postdeploy", v); err != nil {
			return Scripts{}, err
		}
	}
	return s, nil
}

func (p *manifestParser) formation(raw json.RawMessage) (map[string]int, error) {
	procs, err := jsonObject("formation", raw)
	if err != nil {
		return nil, err
	}
	var out map[string]int
	for _, pt := range slices.Sorted(maps.Keys(procs)) {
		if !validProcessType(pt) {
			return nil, processTypeError("formation", pt)
		}
		path := "formation." + pt
		f, unknown, err := jsonFields(path, procs[pt], manifestFormationKeys)
		if err != nil {
			return nil, err
		}
		p.unknown(path, unknown, manifestFormationKeys)
		for _, k := range slices.Sorted(maps.Keys(f)) {
			if k != "quantity" {
				p.warn(path+"."+k, "not supported; ignored")
				continue
			}
			n, err := jsonWhole(path+".quantity", f[k], 0, manifestMaxQuantity)
			if err != nil {
				return nil, err
			}
			if out == nil {
				out = map[string]int{}
			}
			out[pt] = n
		}
	}
	return out, nil
}

func (p *manifestParser) env(raw json.RawMessage) (map[string]EnvVar, error) {
	vars, err := jsonObject("env", raw)
	if err != nil {
		return nil, err
	}
	var out map[string]EnvVar
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if !isEnvName(name) {
			return nil, fmt.Errorf("app.json: env: %q is not a valid variable name; want letters, digits and underscores, not starting with a digit", trim(name))
		}
		path := "env." + name
		var ev EnvVar
		switch v := vars[name]; jsonKind(v) {
		case '"': // Heroku's shorthand: the default value
			ev.Value, err = jsonString(path, v)
		case '{':
			ev, err = p.envVar(path, v)
		default:
			err = manifestTypeError(path, `a string or an object like {"value": "..."}`, v)
		}
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]EnvVar{}
		}
		out[name] = ev
	}
	return out, nil
}

func (p *manifestParser) envVar(path string, raw json.RawMessage) (ev EnvVar, err error) {
	f, unknown, err := jsonFields(path, raw, manifestEnvKeys)
	if err != nil {
		return ev, err
	}
	p.unknown(path, unknown, manifestEnvKeys)
	for _, k := range slices.Sorted(maps.Keys(f)) {
		v, at := f[k], path+"."+k
		switch k {
		case "description":
			ev.Description, err = jsonString(at, v)
		case "required":
			ev.Required, err = jsonBool(at, v)
		case "value":
			ev.Value, err = jsonString(at, v)
		case "generator":
			if ev.Generator, err = jsonString(at, v); err == nil && ev.Generator != "" && ev.Generator != "secret" {
				err = manifestError(at, `want "secret" or nothing, got %q`, trim(ev.Generator))
			}
		}
		if err != nil {
			return EnvVar{}, err
		}
	}
	return ev, nil
}

func (p *manifestParser) pier(raw json.RawMessage) (s PierSettings, err error) {
	known := []string{"memory", "cpu", "sleep", "access"}
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
		var ok bool
		if mib, ok = parseMemorySize(s); !ok {
			return 0, manifestError(path, `want a size like "512M" or "1G", got %q`, trim(s))
		}
	default:
		return 0, manifestTypeError(path, `a number of MiB or a size like "512M"`, raw)
	}
	switch {
	case mib < manifestMinMemoryMiB:
		return 0, manifestError(path, "%g MiB is too small; want at least %d MiB", mib, manifestMinMemoryMiB)
	case mib > manifestMaxMemoryMiB:
		return 0, manifestError(path, "%g MiB is too large; want at most %d MiB (64G)", mib, manifestMaxMemoryMiB)
	case mib != math.Trunc(mib):
		return 0, manifestError(path, "want a whole number of MiB, got %s", jsonDescribe(raw))
	}
	return int(mib), nil
}

func parseMemorySize(s string) (mib float64, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i <= 0 {
		return 0, false // no number, or no unit
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	switch strings.TrimSpace(s[i:]) {
	case "m", "mb", "mib":
		return n, true
	case "g", "gb", "gib":
		return n * 1024, true
	}
	return 0, false
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
	if !(n > 0 && n <= manifestMaxCPU) { // also rejects NaN from "NaN"
		return 0, manifestError(path, "want more than 0 and at most %d cores, got %s", manifestMaxCPU, jsonDescribe(raw))
	}
	return n, nil
}

func isEnvName(s string) bool {
	for i, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func processTypeError(section, pt string) error {
	return fmt.Errorf("app.json: %s: %q is not a valid process type; want lowercase letters, digits, dashes and underscores", section, trim(pt))
}

func manifestError(path, format string, args ...any) error {
	return fmt.Errorf("app.json: %s: %s", path, fmt.Sprintf(format, args...))
}

func manifestTypeError(path, want string, raw json.RawMessage) error {
	return manifestError(path, "want %s, got %s", want, jsonDescribe(raw))
}

// manifestKeyPath appends a user-chosen key to path, quoted unless it is plain.
func manifestKeyPath(path, k string) string {
	plain := k != "" && !strings.ContainsFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	})
	if !plain {
		k = strconv.Quote(trim(k))
	}
	return path + "." + k
}

// jsonKind classifies a JSON value by its first byte: '{', '[', '"', 'n' (null),
// 'b' (true or false) or '0' (a number).
func jsonKind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case '{', '[', '"', 'n':
		return c
	case 't', 'f':
		return 'b'
	}
	return '0'
}

// jsonDescribe says what a value is, for "got ..." in errors.
func jsonDescribe(raw json.RawMessage) string {
	switch jsonKind(raw) {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return strconv.Quote(trim(s))
	}
	return trim(string(bytes.TrimSpace(raw))) // a number, true, false or null
}

// jsonBlank reports whether raw is null, false, 0, "", [] or {}.
func jsonBlank(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// jsonObject decodes raw as a JSON object with arbitrary keys; null members are
// dropped, as if absent.
func jsonObject(path string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	if jsonKind(raw) != '{' {
		return nil, manifestTypeError(path, "an object", raw)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, manifestError(path, "%v", err)
	}
	maps.DeleteFunc(all, func(_ string, v json.RawMessage) bool { return jsonKind(v) == 'n' })
	return all, nil
}

// jsonFields decodes raw as a JSON object with the fixed keys known, which match
// case-insensitively (an exact spelling wins). Null members count as absent.
// The keys that match nothing come back sorted in unknown.
func jsonFields(path string, raw json.RawMessage, known []string) (f map[string]json.RawMessage, unknown []string, err error) {
	all, err := jsonObject(path, raw)
	if err != nil {
		return nil, nil, err
	}
	f = map[string]json.RawMessage{}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		name := k
		if !slices.Contains(known, k) {
			i := slices.IndexFunc(known, func(kn string) bool { return strings.EqualFold(k, kn) })
			if i < 0 {
				unknown = append(unknown, k)
				continue
			}
			if name = known[i]; all[name] != nil {
				continue // the exact spelling is there too
			}
		}
		f[name] = all[k]
	}
	return f, unknown, nil
}

func jsonArray(path string, raw json.RawMessage, want string) ([]json.RawMessage, error) {
	if jsonKind(raw) != '[' {
		return nil, manifestTypeError(path, want, raw)
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, manifestError(path, "%v", err)
	}
	return a, nil
}

func jsonString(path string, raw json.RawMessage) (string, error) {
	if jsonKind(raw) != '"' {
		return "", manifestTypeError(path, "a string", raw)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", manifestError(path, "%v", err)
	}
	return s, nil
}

func jsonBool(path string, raw json.RawMessage) (bool, error) {
	if jsonKind(raw) != 'b' {
		return false, manifestTypeError(path, "true or false", raw)
	}
	return bytes.Equal(bytes.TrimSpace(raw), []byte("true")), nil
}

// jsonFloat reads a JSON number; one too large for float64 reads as ±Inf.
func jsonFloat(raw json.RawMessage) float64 {
	f, _ := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	return f
}

// jsonWhole reads an integer from lo to hi ("3" and "3.0" both count).
func jsonWhole(path string, raw json.RawMessage, lo, hi int) (int, error) {
	if jsonKind(raw) != '0' {
		return 0, manifestTypeError(path, "a whole number", raw)
	}
	f := jsonFloat(raw)
	if f != math.Trunc(f) {
		return 0, manifestTypeError(path, "a whole number", raw)
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, manifestError(path, "want a whole number from %d to %d, got %s", lo, hi, jsonDescribe(raw))
	}
	return int(f), nil
}

// jsonOptionalWhole is jsonWhole for settings where 0 means "not set".
func jsonOptionalWhole(path string, raw json.RawMessage, lo, hi int) (int, error) {
	if jsonKind(raw) == '0' && jsonFloat(raw) == 0 {
		return 0, nil
	}
	return jsonWhole(path, raw, lo, hi)
}

// suggestKey returns the known key k is likely a misspelling of, or "".
func suggestKey(k string, known []string) string {
	for _, kn := range known {
		if d := editDistance(strings.ToLower(k), strings.ToLower(kn)); d <= max(1, len(kn)/5) {
			return kn
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

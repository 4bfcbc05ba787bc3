package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tailscale/hujson"
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
//   - healthchecks and formation name at most MaxProcessTypes process
//     types each, each type at most manifestMaxChecks checks; cron has at
//     most MaxCronEntries entries and env at most manifestMaxEnv.
//   - EnvVar.Required is false unless the file says true (Heroku's default
//     of true is not applied).
func ParseManifest(b []byte) (m Manifest, warnings []string, err error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // editors on Windows add a BOM
	if len(bytes.TrimSpace(b)) == 0 {
		return Manifest{}, nil, errors.New("app.json: file is empty")
	}
	// Dokku reads app.json as JSON with comments and trailing commas
	// (hujson); so does pier. Standardize blanks them out in place, so
	// that offsets, and the lines and columns of later errors, stay.
	std, err := hujson.Standardize(slices.Clone(b))
	if err != nil {
		return Manifest{}, nil, hujsonError(b, err)
	}
	var raw json.RawMessage
	if err := json.Unmarshal(std, &raw); err != nil {
		return Manifest{}, nil, manifestSyntaxError(std, err)
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

// hujsonPosition is where hujson says its error is.
var hujsonPosition = regexp.MustCompile(`(?s)^hujson: line (\d+), column (\d+): (.*)$`)

// hujsonError words a hujson error as pier's other app.json errors, its
// column counted in characters, not bytes. hujson quotes an invalid
// literal as it is, newlines and all and however long: it is quoted and
// trimmed here, so that the error stays one short line.
func hujsonError(b []byte, err error) error {
	m := hujsonPosition.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("app.json: invalid JSON: %q", trim(strings.TrimPrefix(err.Error(), "hujson: ")))
	}
	if lit, ok := strings.CutPrefix(m[3], "invalid literal: "); ok {
		m[3] = fmt.Sprintf("invalid literal %q", trim(lit))
	} else if strings.ContainsAny(m[3], "\n\r") {
		m[3] = fmt.Sprintf("%q", trim(m[3]))
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	if lines := bytes.Split(b, []byte("\n")); line >= 1 && line <= len(lines) {
		l := lines[line-1]
		col = utf8.RuneCount(l[:min(max(col-1, 0), len(l))]) + 1
	}
	return fmt.Errorf("app.json: line %d, column %d: invalid JSON: %s", line, col, m[3])
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
	manifestMaxAttempts = 1000
	manifestMaxSeconds  = 86400
	manifestMaxQuantity = MaxScale
	// manifestMaxEnv bounds app.json's env entries, manifestMaxChecks the
	// health checks of one process type: each costs pier memory and, for
	// checks, requests at every deploy.
	manifestMaxEnv    = 1000
	manifestMaxChecks = 32
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
	if len(procs) > MaxProcessTypes {
		return nil, manifestError("healthchecks", "%d process types: at most %d, as in a Procfile", len(procs), MaxProcessTypes)
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
		if len(list) > manifestMaxChecks {
			return nil, manifestError(path, "%d checks: at most %d per process type; keep the few that tell the app is ready", len(list), manifestMaxChecks)
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
	if len(procs) > MaxProcessTypes {
		return nil, manifestError("formation", "%d process types: at most %d, as in a Procfile", len(procs), MaxProcessTypes)
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
	if len(vars) > manifestMaxEnv {
		return nil, manifestError("env", "%d variables: at most %d; set the others with config:set", len(vars), manifestMaxEnv)
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

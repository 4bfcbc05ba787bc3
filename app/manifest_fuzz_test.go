package app

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ParseManifest reads app.json from every push: whatever the file holds,
// it returns an error or a Manifest whose every value is in range, and does
// so the same way each time.
func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		fullManifest,
		`{}`,
		`{"healthchecks": {"web": [{"wait": 0}, {"attempts": 4.0, "timeout": 1e1}]}}`,
		`{"healthchecks": {"web": [{"Wait": 9, "wait": 2, "initialdelay": 7}]}}`,
		`{"healthchecks": {"web": [{"type": "readiness", "path": "/ready?full=1", "port": 8080, "scheme": "http"}]}}`,
		`{"healthchecks": {"web": [{"command": ["x"], "listening": true, "uptime": 5, "scheme": "https"}]}}`,
		`{"formation": {"web": {"quantity": 2}, "worker": {"quantity": 1, "max_parallel": 1}}}`,
		`{"env": {"A": "x", "B": {"required": true, "generator": "secret"}}}`,
		`{"cron": [{"command": "true", "schedule": "@daily", "id": "nightly", "timeout": "30m", "concurrency_policy": "forbid", "catchup": true}]}`,
		`{"cron": [{"command": "true", "schedule": "*/5 * * * *", "timeout": 60, "timezone": "Europe/Berlin"}]}`,
		`{"pier": {"memory": "1.5g", "cpu": "0.5", "sleep": {"after": "15m", "stop_after": "2h"}}}`,
		`{"pier": {"sleep": "never", "access": {"allow": ["10.0.0.0/8", "192.0.2.7"]}, "node_labels": {"disk": "ssd"}}}`,
		"// comment\n{\"scripts\": {\"dokku\": {\"predeploy\": \"make\",},}, /* c */}",
		"\xef\xbb\xbf{\"addons\": [\"postgres\"], \"buildpacks\": [{}], \"foo\": 1}",
		`{} x`,
		`{"healthchecks": {"web": [{"initialDelay": 1e400}]}}`,
		"{\n  \"env\": {\n    \"1FOO\": \"x\"\n  }\n}",
		`[1, 2]`,
		`{"healthchecks": {"web": [{"wait": 0, "uptime": 1}]}, "pier": {"memory": "1.5g"}}`,
		`{"env": {"A": {"generator": "secret"}}, "formation": {"web": {"quantity": 1e3}}}`,
		`{"pier": {"node_labels": {"disk": "` + strings.Repeat("s", 2000) + `"}}}`,
	} {
		f.Add([]byte(s))
	}
	var formation, checks []string
	for i := range MaxProcessTypes + 1 {
		formation = append(formation, fmt.Sprintf(`"p%d": {"quantity": 1}`, i))
		checks = append(checks, fmt.Sprintf(`"p%d": [{"path": "/"}]`, i))
	}
	f.Add([]byte(`{"formation": {` + strings.Join(formation, ", ") + `}}`))
	f.Add([]byte(`{"healthchecks": {` + strings.Join(checks, ", ") + `}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, warnings, err := ParseManifest(b)
		m2, warnings2, err2 := ParseManifest(b)
		if !reflect.DeepEqual(m, m2) || !reflect.DeepEqual(warnings, warnings2) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("two parses differ: %+v %q %v; %+v %q %v", m, warnings, err, m2, warnings2, err2)
		}
		if err != nil {
			if !reflect.DeepEqual(m, Manifest{}) || warnings != nil {
				t.Fatalf("error %v with a manifest %+v and warnings %q", err, m, warnings)
			}
			checkMessage(t, "error", err.Error())
			if !strings.HasPrefix(err.Error(), "app.json: ") {
				t.Fatalf("error %q does not name app.json", err)
			}
			return
		}
		for _, w := range warnings {
			checkMessage(t, "warning", w)
			if !strings.HasPrefix(w, "app.json: ") {
				t.Fatalf("warning %q does not name app.json", w)
			}
		}
		checkManifest(t, m)
	})
}

// checkManifest fails t unless every value of m is one ParseManifest may
// return: what the rest of pier relies on without checking again.
func checkManifest(t *testing.T, m Manifest) {
	t.Helper()
	if len(m.Healthchecks) > MaxProcessTypes || len(m.Formation) > MaxProcessTypes {
		t.Fatalf("%d process types with checks, %d in the formation: at most %d", len(m.Healthchecks), len(m.Formation), MaxProcessTypes)
	}
	for pt, checks := range m.Healthchecks {
		if !validProcessType(pt) || len(checks) == 0 || len(checks) > manifestMaxChecks {
			t.Fatalf("healthchecks[%q]: %d checks", pt, len(checks))
		}
		for _, c := range checks {
			switch {
			case c.Type != "startup" && c.Type != "readiness" && c.Type != "liveness",
				!strings.HasPrefix(c.Path, "/"), strings.ContainsFunc(c.Path, func(r rune) bool { return r <= ' ' || r == 0x7f }),
				c.Port < 0 || c.Port > 65535,
				c.Attempts < 1 || c.Attempts > manifestMaxAttempts,
				c.Timeout < 1 || c.Timeout > manifestMaxSeconds,
				c.Wait < 0 || c.Wait > manifestMaxSeconds,
				c.InitialDelay < 0 || c.InitialDelay > manifestMaxSeconds:
				t.Fatalf("healthchecks[%q]: check out of range: %+v", pt, c)
			}
		}
	}
	for pt, n := range m.Formation {
		if !validProcessType(pt) || n < 0 || n > MaxScale {
			t.Fatalf("formation[%q] = %d", pt, n)
		}
	}
	if len(m.Env) > manifestMaxEnv {
		t.Fatalf("%d env entries: at most %d", len(m.Env), manifestMaxEnv)
	}
	for name, ev := range m.Env {
		if !isEnvName(name) || ev.Generator != "" && ev.Generator != "secret" {
			t.Fatalf("env[%q] = %+v", name, ev)
		}
	}
	if s := m.Pier; s.MemoryMiB != 0 && (s.MemoryMiB < MinMemoryMiB || s.MemoryMiB > MaxMemoryMiB) ||
		s.CPU != 0 && !(s.CPU > 0 && s.CPU <= MaxCPU) {
		t.Fatalf("pier: memory %d MiB, cpu %g", s.MemoryMiB, s.CPU)
	}
	if pol := m.Pier.Sleep; pol != nil {
		for _, d := range []time.Duration{pol.After, pol.StopAfter} {
			if d != 0 && (d < time.Second || d > 30*24*time.Hour) {
				t.Fatalf("pier.sleep: %+v", *pol)
			}
		}
	}
	if a := m.Pier.Access; a != nil {
		for _, s := range a.Allow {
			if p, err := ParsePrefix(s); err != nil || p.String() != s {
				t.Fatalf("pier.access.allow: %q (%v)", s, err)
			}
		}
	}
	if err := ValidNodeLabels(m.Pier.NodeLabels); err != nil {
		t.Fatalf("pier.node_labels: %v", err)
	}
	if len(m.Cron) > MaxCronEntries {
		t.Fatalf("%d cron entries: at most %d", len(m.Cron), MaxCronEntries)
	}
	for _, e := range m.Cron {
		if !validProcessType(e.ID) || e.Command == "" || e.Schedule == "" ||
			e.Command != strings.TrimSpace(e.Command) || e.Schedule != strings.TrimSpace(e.Schedule) ||
			e.Timeout != 0 && (e.Timeout < time.Second || e.Timeout > maxCronTimeout) {
			t.Fatalf("cron entry out of range: %+v", e)
		}
		switch e.Policy {
		case "", CronAllow, CronForbid, CronReplace:
		default:
			t.Fatalf("cron entry with policy %q", e.Policy)
		}
	}
}

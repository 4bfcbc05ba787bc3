package app

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A Dokku app.json as found in the wild, with pier's own key added.
const fullManifest = `{
  "name": "hello",
  "description": "A small Django app",
  "keywords": ["python", "django"],
  "repository": "https://github.com/example/hello",
  "scripts": {
    "dokku": {
      "predeploy": "python manage.py migrate --noinput",
      "postdeploy": "curl -fsS https://hooks.example.com/deployed"
    }
  },
  "healthchecks": {
    "web": [
      {
        "type": "startup",
        "name": "web check",
        "description": "Checking if the app responds to the /health endpoint",
        "path": "/health",
        "port": 5000,
        "attempts": 10,
        "wait": 2,
        "timeout": 3,
        "content": "ok",
        "initialDelay": 1
      },
      {"type": "liveness", "path": "/live"}
    ],
    "worker": [{"type": "readiness", "command": ["/app/ready.sh"]}]
  },
  "formation": {
    "web": {"quantity": 2},
    "worker": {"quantity": 1, "max_parallel": 1}
  },
  "env": {
    "WEB_CONCURRENCY": "3",
    "SECRET_KEY": {"description": "Django secret", "generator": "secret"},
    "DATABASE_URL": {"description": "Postgres URL", "required": true}
  },
  "cron": [{"command": "python manage.py clearsessions", "schedule": "@daily"}],
  "pier": {"memory": "512M", "cpu": 0.5}
}`

func TestParseManifestFull(t *testing.T) {
	got, warnings, err := ParseManifest([]byte(fullManifest))
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest{
		Healthchecks: map[string][]HealthCheck{
			"web": {
				{Type: "startup", Name: "web check", Path: "/health", Port: 5000, Attempts: 10, Wait: 2, Timeout: 3, Content: "ok", InitialDelay: 1},
				{Type: "liveness", Path: "/live", Attempts: 3, Wait: 5, Timeout: 5},
			},
		},
		Scripts: Scripts{
			Predeploy:  "python manage.py migrate --noinput",
			Postdeploy: "curl -fsS https://hooks.example.com/deployed",
		},
		Formation: map[string]int{"web": 2, "worker": 1},
		Env: map[string]EnvVar{
			"WEB_CONCURRENCY": {Value: "3"},
			"SECRET_KEY":      {Description: "Django secret", Generator: "secret"},
			"DATABASE_URL":    {Description: "Postgres URL", Required: true},
		},
		Cron: []CronEntry{{ID: cronID("@daily", "python manage.py clearsessions"), Schedule: "@daily", Command: "python manage.py clearsessions"}},
		Pier: PierSettings{MemoryMiB: 512, CPU: 0.5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v,\nwant %+v", got, want)
	}
	wantWarnings := []string{
		"app.json: formation.worker.max_parallel: not supported; ignored",
		"app.json: healthchecks.worker[0].command: command checks are not supported; ignored",
	}
	if !reflect.DeepEqual(warnings, wantWarnings) {
		t.Errorf("got %q, want %q", warnings, wantWarnings)
	}
}

func TestParseManifestHealthchecks(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want HealthCheck
	}{
		{"defaults filled", `{}`,
			HealthCheck{Type: "startup", Path: "/", Attempts: 3, Wait: 5, Timeout: 5}},
		{"explicit wait 0 kept", `{"wait": 0}`,
			HealthCheck{Type: "startup", Path: "/", Attempts: 3, Wait: 0, Timeout: 5}},
		{"zero means default", `{"attempts": 0, "timeout": 0, "port": 0, "path": "", "type": ""}`,
			HealthCheck{Type: "startup", Path: "/", Attempts: 3, Wait: 5, Timeout: 5}},
		{"null is absent", `{"wait": null, "path": null}`,
			HealthCheck{Type: "startup", Path: "/", Attempts: 3, Wait: 5, Timeout: 5}},
		{"whole float", `{"attempts": 4.0, "timeout": 1e1}`,
			HealthCheck{Type: "startup", Path: "/", Attempts: 4, Wait: 5, Timeout: 10}},
		{"keys match case-insensitively", `{"initialdelay": 7, "Path": "/up", "WAIT": 1}`,
			HealthCheck{Type: "startup", Path: "/up", Attempts: 3, Wait: 1, Timeout: 5, InitialDelay: 7}},
		{"exact spelling wins", `{"Wait": 9, "wait": 2}`,
			HealthCheck{Type: "startup", Path: "/", Attempts: 3, Wait: 2, Timeout: 5}},
		{"readiness", `{"type": "readiness", "path": "/ready?full=1", "port": 8080, "scheme": "http"}`,
			HealthCheck{Type: "readiness", Path: "/ready?full=1", Port: 8080, Attempts: 3, Wait: 5, Timeout: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, warnings, err := ParseManifest([]byte(`{"healthchecks": {"web": [` + tt.in + `]}}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Errorf("got warnings %q, want none", warnings)
			}
			if got := m.Healthchecks["web"]; len(got) != 1 || got[0] != tt.want {
				t.Errorf("got %+v, want [%+v]", got, tt.want)
			}
		})
	}
}

func TestParseManifestErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the error must contain this
	}{
		{"empty", ``, "app.json: file is empty"},
		{"whitespace", " \n\t\n", "app.json: file is empty"},
		{"top-level array", `[]`, "app.json: want a JSON object at the top level, got an array"},
		{"top-level string", `"x"`, `top level, got "x"`},
		{"trailing garbage", `{} x`, "app.json: line 1, column 4: invalid JSON"},

		{"attempts word", `{"healthchecks": {"web": [{"attempts": "three"}]}}`,
			`app.json: healthchecks.web[0].attempts: want a whole number, got "three"`},
		{"attempts negative", `{"healthchecks": {"web": [{"attempts": -1}]}}`,
			"healthchecks.web[0].attempts: want a whole number from 1 to 1000, got -1"},
		{"attempts fraction", `{"healthchecks": {"web": [{"attempts": 2.5}]}}`,
			"healthchecks.web[0].attempts: want a whole number, got 2.5"},
		{"wait negative", `{"healthchecks": {"web": [{"wait": -1}]}}`,
			"healthchecks.web[0].wait: want a whole number from 0 to 86400, got -1"},
		{"timeout negative", `{"healthchecks": {"web": [{"timeout": -5}]}}`,
			"healthchecks.web[0].timeout: want a whole number from 1 to 86400, got -5"},
		{"initialDelay negative", `{"healthchecks": {"web": [{"initialDelay": -1}]}}`,
			"healthchecks.web[0].initialDelay: want a whole number from 0 to 86400, got -1"},
		{"initialDelay huge", `{"healthchecks": {"web": [{"initialDelay": 1e400}]}}`,
			"healthchecks.web[0].initialDelay: want a whole number from 0 to 86400, got 1e400"},
		{"port too big", `{"healthchecks": {"web": [{"port": 70000}]}}`,
			"healthchecks.web[0].port: want a whole number from 1 to 65535, got 70000"},
		{"port string", `{"healthchecks": {"web": [{"port": "5000"}]}}`,
			`healthchecks.web[0].port: want a whole number, got "5000"`},
		{"type unknown", `{"healthchecks": {"web": [{"type": "startp"}]}}`,
			`healthchecks.web[0].type: want "startup", "readiness" or "liveness", got "startp"`},
		{"path relative", `{"healthchecks": {"web": [{"path": "health"}]}}`,
			`healthchecks.web[0].path: want a URL path starting with "/", got "health"`},
		{"path with space", `{"healthchecks": {"web": [{"path": "/a b"}]}}`,
			`healthchecks.web[0].path: want a URL path starting with "/", got "/a b"`},
		{"name bool", `{"healthchecks": {"web": [{"name": true}]}}`,
			"healthchecks.web[0].name: want a string, got true"},
		{"listening string", `{"healthchecks": {"web": [{"listening": "yes"}]}}`,
			`healthchecks.web[0].listening: want true or false, got "yes"`},
		{"scheme unknown", `{"healthchecks": {"web": [{"scheme": "ftp"}]}}`,
			`healthchecks.web[0].scheme: want "http" or "https", got "ftp"`},
		{"second check", `{"healthchecks": {"web": [{}, {"content": 5}]}}`,
			"healthchecks.web[1].content: want a string, got 5"},
		{"check not object", `{"healthchecks": {"web": ["/health"]}}`,
			`healthchecks.web[0]: want an object, got "/health"`},
		{"checks not array", `{"healthchecks": {"web": {"path": "/"}}}`,
			"healthchecks.web: want an array of checks, got an object"},
		{"healthchecks not object", `{"healthchecks": []}`,
			"app.json: healthchecks: want an object, got an array"},
		{"healthchecks bad process type", `{"healthchecks": {"Web": []}}`,
			`app.json: healthchecks: "Web" is not a valid process type`},

		{"script not string", `{"scripts": {"dokku": {"predeploy": 42}}}`,
			"app.json: scripts.dokku.predeploy: want a string, got 42"},
		{"postdeploy array", `{"scripts": {"dokku": {"postdeploy": ["a", "b"]}}}`,
			"scripts.dokku.postdeploy: want a string, got an array"},
		{"scripts.dokku not object", `{"scripts": {"dokku": "make"}}`,
			`scripts.dokku: want an object, got "make"`},
		{"scripts not object", `{"scripts": "make"}`,
			`app.json: scripts: want an object, got "make"`},

		{"quantity too many", `{"formation": {"web": {"quantity": 21}}}`,
			"formation.web.quantity: want a whole number from 0 to 20, got 21"},
		{"quantity negative", `{"formation": {"web": {"quantity": -1}}}`,
			"formation.web.quantity: want a whole number from 0 to 20, got -1"},
		{"quantity fraction", `{"formation": {"web": {"quantity": 1.5}}}`,
			"formation.web.quantity: want a whole number, got 1.5"},
		{"quantity string", `{"formation": {"web": {"quantity": "2"}}}`,
			`formation.web.quantity: want a whole number, got "2"`},
		{"formation bare number", `{"formation": {"web": 2}}`,
			"formation.web: want an object, got 2"},
		{"formation bad process type", `{"formation": {"web server": {"quantity": 1}}}`,
			`app.json: formation: "web server" is not a valid process type`},

		{"env name digit", `{"env": {"1FOO": "x"}}`,
			`app.json: env: "1FOO" is not a valid variable name`},
		{"env name dash", `{"env": {"FOO-BAR": "x"}}`,
			`app.json: env: "FOO-BAR" is not a valid variable name`},
		{"env generator", `{"env": {"SECRET_KEY": {"generator": "echo 5"}}}`,
			`app.json: env.SECRET_KEY.generator: want "secret" or nothing, got "echo 5"`},
		{"env required string", `{"env": {"A": {"required": "yes"}}}`,
			`env.A.required: want true or false, got "yes"`},
		{"env value number", `{"env": {"PORT": {"value": 5000}}}`,
			"env.PORT.value: want a string, got 5000"},
		{"env number", `{"env": {"WORKERS": 3}}`,
			`env.WORKERS: want a string or an object like {"value": "..."}, got 3`},
		{"env array", `{"env": ["A"]}`, "app.json: env: want an object, got an array"},

		{"memory too small", `{"pier": {"memory": "8M"}}`,
			"app.json: pier.memory: 8 MiB is too small; want at least 16 MiB"},
		{"memory number too small", `{"pier": {"memory": 0}}`,
			"pier.memory: 0 MiB is too small"},
		{"memory too large", `{"pier": {"memory": "100G"}}`,
			"pier.memory: 102400 MiB is too large; want at most 65536 MiB"},
		{"memory unit", `{"pier": {"memory": "512K"}}`,
			`pier.memory: want a size like "512M" or "1G", got "512K"`},
		{"memory no unit", `{"pier": {"memory": "512"}}`,
			`pier.memory: want a size like "512M" or "1G", got "512"`},
		{"memory fraction", `{"pier": {"memory": 100.5}}`,
			"pier.memory: want a whole number of MiB, got 100.5"},
		{"memory bool", `{"pier": {"memory": true}}`,
			`pier.memory: want a number of MiB or a size like "512M", got true`},
		{"cpu zero", `{"pier": {"cpu": 0}}`,
			"app.json: pier.cpu: want more than 0 and at most 64 cores, got 0"},
		{"cpu too many", `{"pier": {"cpu": 65}}`, "pier.cpu: want more than 0 and at most 64 cores, got 65"},
		{"cpu negative string", `{"pier": {"cpu": "-1"}}`, `pier.cpu: want more than 0 and at most 64 cores, got "-1"`},
		{"cpu NaN", `{"pier": {"cpu": "NaN"}}`, `pier.cpu: want more than 0 and at most 64 cores, got "NaN"`},
		{"cpu word", `{"pier": {"cpu": "fast"}}`, `pier.cpu: want a number of cores like 0.5 or 2, got "fast"`},
		{"cpu object", `{"pier": {"cpu": {}}}`, "pier.cpu: want a number of cores like 0.5 or 2, got an object"},
		{"pier not object", `{"pier": 1}`, "app.json: pier: want an object, got 1"},

		{"hostile value trimmed", `{"pier": {"memory": "` + strings.Repeat("9", 200) + `\u001b[2J"}}`,
			`got "999`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, warnings, err := ParseManifest([]byte(tt.in))
			if err == nil {
				t.Fatalf("got no error (manifest %+v), want one containing %q", m, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if !reflect.DeepEqual(m, Manifest{}) || warnings != nil {
				t.Errorf("got manifest %+v and warnings %q with the error, want zero values", m, warnings)
			}
			if strings.ContainsAny(err.Error(), "\x1b\n") {
				t.Errorf("got %q, want no control characters", err)
			}
		})
	}
}

func TestParseManifestSyntaxError(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"column counts characters",
			"{\n  \"env\": {\"NAME\": \"café\" \"x\"}\n}",
			"app.json: line 2, column 26: invalid JSON: invalid character '\"' after object value"},
		{"after a comment", "{\n  // the café's app\n  \"pier\": {\"memory\": 512}}}\n",
			"app.json: line 3, column 27: invalid JSON: invalid character '}' after top-level value"},
		{"unterminated", "{\n  \"pier\": {\n", "app.json: line 3, column 1: invalid JSON: parsing value: unexpected EOF"},
		{"byte order mark", "\xef\xbb\xbf{,}", "app.json: line 1, column 2: invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseManifest([]byte(tt.in))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %q, want %q", err, tt.want)
			}
		})
	}
}

// Dokku's own test apps have comments in app.json, and trailing commas
// pass there too.
func TestParseManifestWithComments(t *testing.T) {
	m, _, err := ParseManifest([]byte(`{
  // run migrations before the new release serves
  "scripts": {"dokku": {"predeploy": "touch /app/release.test"}}, /* a block
  comment */
  "formation": {"web": {"quantity": 2,},},
}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Scripts.Predeploy != "touch /app/release.test" || m.Formation["web"] != 2 {
		t.Errorf("got %+v", m)
	}
}

func TestParseManifestWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"unknown key", `{"foo": 1}`, []string{`app.json: unknown key "foo" ignored`}},
		{"sorted", `{"zeta": 1, "alpha": {}, "pier": {"swap": "1G"}}`, []string{
			`app.json: pier: unknown key "swap" ignored`,
			`app.json: unknown key "alpha" ignored`,
			`app.json: unknown key "zeta" ignored`,
		}},
		{"typo", `{"healthcheck": {}}`,
			[]string{`app.json: unknown key "healthcheck" ignored; did you mean "healthchecks"?`}},
		{"hostile key quoted", `{"a\u001b[2Jb": 1}`, []string{`app.json: unknown key "a\x1b[2Jb" ignored`}},
		{"heroku keys silent", `{"name": "x", "description": "y", "keywords": [], "website": "w", "repository": "r",
			"logo": "l", "success_url": "/", "stack": "heroku-24", "image": "heroku/ruby", "environments": {"test": {}}}`, nil},
		{"null ignored", `{"healthchecks": null, "pier": null, "env": {"A": null}}`, nil},
		{"empty cron addons buildpacks silent", `{"cron": [], "addons": [], "buildpacks": []}`, nil},
		{"cron unknown key", `{"cron": [{"command": "x", "schedule": "@daily", "comand": "y"}]}`,
			[]string{`app.json: cron[0]: unknown key "comand" ignored; did you mean "command"?`}},
		{"addons", `{"addons": ["heroku-postgresql"]}`,
			[]string{"app.json: addons: pier does not provision add-ons; ignored"}},
		{"buildpacks", `{"buildpacks": [{"url": "heroku/python"}]}`,
			[]string{"app.json: buildpacks: pier works out how to build the app from its files; ignored"}},
		{"heroku postdeploy", `{"scripts": {"postdeploy": "rake db:seed", "pr-predestroy": "x"}}`, []string{
			"app.json: scripts.postdeploy: not supported (pier runs scripts.dokku.predeploy and scripts.dokku.postdeploy); ignored",
			"app.json: scripts.pr-predestroy: not supported (pier runs scripts.dokku.predeploy and scripts.dokku.postdeploy); ignored",
		}},
		{"dokku prebuild", `{"scripts": {"dokku": {"prebuild": "x", "pre build": "y"}}}`, []string{
			`app.json: scripts.dokku."pre build": not supported; ignored`,
			"app.json: scripts.dokku.prebuild: not supported; ignored",
		}},
		{"formation size", `{"formation": {"web": {"quantity": 1, "size": "standard-1x", "colour": "red"}}}`, []string{
			"app.json: formation.web.size: not supported; ignored",
			`app.json: formation.web: unknown key "colour" ignored`,
		}},
		{"env unknown key", `{"env": {"A": {"value": "1", "default": "2"}}}`,
			[]string{`app.json: env.A: unknown key "default" ignored`}},
		{"check extras", `{"healthchecks": {"web": [{"description": "d", "warn": true, "onFailure": {"url": "https://x"},
			"httpHeaders": [{"name": "Host", "value": "x"}], "retries": 3}]}}`, []string{
			"app.json: healthchecks.web[0].httpHeaders: not supported; ignored",
			"app.json: healthchecks.web[0].onFailure: not supported; ignored",
			"app.json: healthchecks.web[0].warn: not supported; a failing check still fails the deploy",
			`app.json: healthchecks.web[0]: unknown key "retries" ignored`,
		}},
		{"warn false silent", `{"healthchecks": {"web": [{"warn": false, "listening": false, "uptime": 0, "command": []}]}}`, nil},
		{"command check", `{"healthchecks": {"web": [{"command": ["/bin/true"]}]}}`,
			[]string{"app.json: healthchecks.web[0].command: command checks are not supported; ignored"}},
		{"listening check", `{"healthchecks": {"web": [{"listening": true, "port": 3000}]}}`,
			[]string{"app.json: healthchecks.web[0].listening: listening checks are not supported; ignored"}},
		{"uptime check", `{"healthchecks": {"web": [{"uptime": 10}]}}`,
			[]string{"app.json: healthchecks.web[0].uptime: uptime checks are not supported; ignored"}},
		{"https check", `{"healthchecks": {"web": [{"scheme": "HTTPS", "path": "/"}]}}`,
			[]string{"app.json: healthchecks.web[0].scheme: https checks are not supported; ignored"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := ParseManifest([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Checks pier cannot run are dropped, not turned into HTTP checks on "/".
func TestParseManifestDroppedChecks(t *testing.T) {
	in := `{"healthchecks": {
		"web": [{"command": ["x"]}, {"path": "/ok"}, {"uptime": 5}],
		"worker": [{"listening": true}]}}`
	m, _, err := ParseManifest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]HealthCheck{"web": {{Type: "startup", Path: "/ok", Attempts: 3, Wait: 5, Timeout: 5}}}
	if !reflect.DeepEqual(m.Healthchecks, want) {
		t.Errorf("got %+v, want %+v", m.Healthchecks, want)
	}
}

func TestParseManifestEnv(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want EnvVar
	}{
		{"string shorthand", `"5"`, EnvVar{Value: "5"}},
		{"empty string", `""`, EnvVar{}},
		{"object", `{"description": "d", "required": true, "value": "v"}`,
			EnvVar{Description: "d", Required: true, Value: "v"}},
		{"secret", `{"generator": "secret"}`, EnvVar{Generator: "secret"}},
		{"empty object", `{}`, EnvVar{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := ParseManifest([]byte(`{"env": {"_MY_VAR2": ` + tt.in + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := m.Env["_MY_VAR2"]; !ok || got != tt.want {
				t.Errorf("got %+v (present %v), want %+v", got, ok, tt.want)
			}
		})
	}
}

func TestParseManifestMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`512`, 512},
		{`16`, 16},
		{`65536`, 65536},
		{`"512M"`, 512},
		{`"512MB"`, 512},
		{`"512MiB"`, 512},
		{`"256m"`, 256},
		{`"256mib"`, 256},
		{`"1G"`, 1024},
		{`"1GB"`, 1024},
		{`"1GiB"`, 1024},
		{`"2g"`, 2048},
		{`"1.5G"`, 1536},
		{`" 768 MB "`, 768},
		{`"64G"`, 65536},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, _, err := ParseManifest([]byte(`{"pier": {"memory": ` + tt.in + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if m.Pier.MemoryMiB != tt.want {
				t.Errorf("got %d, want %d", m.Pier.MemoryMiB, tt.want)
			}
		})
	}
}

func TestParseManifestCPU(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{`0.5`, 0.5},
		{`2`, 2},
		{`64`, 64},
		{`"0.25"`, 0.25},
		{`" 1.5 "`, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, _, err := ParseManifest([]byte(`{"pier": {"cpu": ` + tt.in + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if m.Pier.CPU != tt.want {
				t.Errorf("got %v, want %v", m.Pier.CPU, tt.want)
			}
		})
	}
}

func TestParseManifestEmptyObject(t *testing.T) {
	for _, in := range []string{`{}`, `{"healthchecks": {}, "formation": {}, "env": {}, "scripts": {"dokku": {}}, "pier": {}}`,
		`{"healthchecks": {"web": []}, "scripts": {"dokku": {"predeploy": ""}}}`} {
		m, warnings, err := ParseManifest([]byte(in))
		if err != nil || warnings != nil || !reflect.DeepEqual(m, Manifest{}) {
			t.Errorf("%s: got %+v, %q, %v; want the zero Manifest", in, m, warnings, err)
		}
	}
}

func TestReadManifest(t *testing.T) {
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(t *testing.T, target, link string) {
		t.Helper()
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("missing file", func(t *testing.T) {
		m, warnings, err := readManifest(t.TempDir())
		if err != nil || warnings != nil || !reflect.DeepEqual(m, Manifest{}) {
			t.Errorf("got %+v, %q, %v; want the zero Manifest", m, warnings, err)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		m, _, err := readManifest(filepath.Join(t.TempDir(), "nope"))
		if err != nil || !reflect.DeepEqual(m, Manifest{}) {
			t.Errorf("got %+v, %v; want the zero Manifest", m, err)
		}
	})
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "app.json"), `{"scripts": {"dokku": {"predeploy": "make"}}, "x": 1}`)
		m, warnings, err := readManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Scripts.Predeploy != "make" {
			t.Errorf("got %q, want %q", m.Scripts.Predeploy, "make")
		}
		if want := []string{`app.json: unknown key "x" ignored`}; !reflect.DeepEqual(warnings, want) {
			t.Errorf("got %q, want %q", warnings, want)
		}
	})
	t.Run("malformed file", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "app.json"), "{\n\"pier\": {\"cpu\": \"lots\"}}")
		_, _, err := readManifest(dir)
		if want := `app.json: pier.cpu: want a number of cores like 0.5 or 2, got "lots"`; err == nil || err.Error() != want {
			t.Errorf("got %q, want %q", err, want)
		}
	})
	t.Run("symlink inside dir", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "deploy.json"), `{"formation": {"web": {"quantity": 3}}}`)
		symlink(t, "deploy.json", filepath.Join(dir, "app.json"))
		m, _, err := readManifest(dir)
		if err != nil || m.Formation["web"] != 3 {
			t.Errorf("got %+v, %v; want web quantity 3", m, err)
		}
	})
	t.Run("symlink out of dir", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "secret.json")
		write(t, outside, `{"pier": {"memory": "s3cret"}}`)
		dir := t.TempDir()
		symlink(t, outside, filepath.Join(dir, "app.json"))
		_, _, err := readManifest(dir)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("got %v, want an error that does not show the file", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "app.json"), `{"description": "`+strings.Repeat("x", maxManifestBytes)+`"}`)
		_, _, err := readManifest(dir)
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("got %v, want a size error", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "app.json"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, _, err := readManifest(dir)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("got %v, want a not-a-file error", err)
		}
	})
}

// TestParseManifestCounts checks that a pushed app.json cannot make pier
// hold or act on an unbounded number of env entries or health checks, and
// that the cron bound is the one the Procfile and the deploy use.
func TestParseManifestCounts(t *testing.T) {
	many := func(n int, f string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(f, i)
		}
		return strings.Join(items, ", ")
	}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"env", `{"env": {` + many(manifestMaxEnv+1, `"V%d": "x"`) + `}}`,
			"app.json: env: 1001 variables: at most 1000; set the others with config:set"},
		{"checks", `{"healthchecks": {"web": [` + many(manifestMaxChecks+1, `{"path": "/%d"}`) + `]}}`,
			"app.json: healthchecks.web: 33 checks: at most 32 per process type"},
		{"cron", `{"cron": [` + many(MaxCronEntries+1, `{"command": "true", "schedule": "@daily", "id": "c%d"}`) + `]}`,
			"app.json: cron: 65 entries: at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseManifest([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("at the bound", func(t *testing.T) {
		in := `{"env": {` + many(manifestMaxEnv, `"V%d": "x"`) + `}, "healthchecks": {"web": [` + many(manifestMaxChecks, `{"path": "/%d"}`) + `]}}`
		m, _, err := ParseManifest([]byte(in))
		if err != nil || len(m.Env) != manifestMaxEnv || len(m.Healthchecks["web"]) != manifestMaxChecks {
			t.Fatalf("got %d env, %d checks, %v; want %d, %d, nil", len(m.Env), len(m.Healthchecks["web"]), err, manifestMaxEnv, manifestMaxChecks)
		}
	})
	t.Run("validate", func(t *testing.T) {
		entries := make([]CronEntry, MaxCronEntries+1)
		for i := range entries {
			entries[i] = CronEntry{ID: fmt.Sprintf("c%d", i), Schedule: "@daily", Command: "true"}
		}
		err := CronParser{}.Validate(entries)
		if err == nil || !strings.Contains(err.Error(), "at most 64") {
			t.Fatalf("got %v, want at most %d entries", err, MaxCronEntries)
		}
	})
}

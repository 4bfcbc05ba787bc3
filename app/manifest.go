package app

// Manifest is what pier reads from an app's app.json (Dokku's format), plus
// pier's own settings under the "pier" key. The zero value means no app.json.
type Manifest struct {
	// Healthchecks maps a process type ("web") to its checks.
	Healthchecks map[string][]HealthCheck `json:"healthchecks,omitempty"`
	Scripts      Scripts                  `json:"scripts,omitempty"`
	// Formation gives initial instance counts per process type.
	Formation map[string]int    `json:"formation,omitempty"`
	Env       map[string]EnvVar `json:"env,omitempty"`
	Pier      PierSettings      `json:"pier,omitempty"`

	// Cron is app.json's cron entries, in file order. Deploy moves them to
	// Release.Cron (with the Procfile's); they are not stored here.
	Cron []CronEntry `json:"-"`
}

// HealthCheck is one Dokku-style check (app.json healthchecks.web[]).
// Durations are in seconds, as in Dokku.
type HealthCheck struct {
	Type         string `json:"type,omitempty"` // startup (default), readiness, liveness
	Name         string `json:"name,omitempty"`
	Path         string `json:"path,omitempty"`     // default "/"
	Port         int    `json:"port,omitempty"`     // container port; default $PORT
	Attempts     int    `json:"attempts,omitempty"` // default 3
	Wait         int    `json:"wait,omitempty"`     // seconds between attempts; default 5
	Timeout      int    `json:"timeout,omitempty"`  // seconds per attempt; default 5
	Content      string `json:"content,omitempty"`  // must appear in the body
	InitialDelay int    `json:"initialDelay,omitempty"`
}

// Scripts are commands run in one-off containers of the release.
type Scripts struct {
	Predeploy  string `json:"predeploy,omitempty"`  // before the new release starts; failure aborts
	Postdeploy string `json:"postdeploy,omitempty"` // after it serves; failure is reported
}

// EnvVar declares a config var the app expects.
type EnvVar struct {
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Value       string `json:"value,omitempty"`     // default when unset
	Generator   string `json:"generator,omitempty"` // "secret": random, generated once
}

// PierSettings are pier's own app.json settings.
type PierSettings struct {
	// MemoryMiB limits each process's memory; 0 means the daemon's default.
	MemoryMiB int `json:"memory,omitempty"`
	// CPU limits each process to this many cores (0.5 = half a core); 0 means no limit.
	CPU float64 `json:"cpu,omitempty"`
	// Sleep is the app's sleep policy (pier.sleep: "never", or
	// {"after": "15m", "stop_after": "2h"}); nil for the defaults.
	Sleep *SleepPolicy `json:"sleep,omitempty"`
	// Access adds allowed client networks to the app's access rules
	// (pier.access: {"allow": ["10.0.0.0/8"]}); nil if unset.
	Access *AccessSettings `json:"access,omitempty"`
	// NodeLabels are the labels a machine of a cluster must have to run
	// the app (pier.node_labels: {"disk": "ssd"}); none: any machine.
	NodeLabels map[string]string `json:"node_labels,omitempty"`
}

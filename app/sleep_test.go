package app

import (
	"strings"
	"testing"
	"time"
)

func TestManifestSleep(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *SleepPolicy
		wantErr string
	}{
		{"never", `{"pier": {"sleep": "never"}}`, &SleepPolicy{Never: true}, ""},
		{"durations", `{"pier": {"sleep": {"after": "5m", "stop_after": "1h"}}}`, &SleepPolicy{After: 5 * time.Minute, StopAfter: time.Hour}, ""},
		{"after only", `{"pier": {"sleep": {"after": "90s"}}}`, &SleepPolicy{After: 90 * time.Second}, ""},
		{"absent", `{"pier": {}}`, nil, ""},
		{"other word", `{"pier": {"sleep": "sometimes"}}`, nil, `pier.sleep: want "never"`},
		{"bad duration", `{"pier": {"sleep": {"after": "soon"}}}`, nil, "pier.sleep.after"},
		{"too short", `{"pier": {"sleep": {"after": "10ms"}}}`, nil, "out of range"},
		{"number", `{"pier": {"sleep": {"after": 300}}}`, nil, "pier.sleep.after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := ParseManifest([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := m.Pier.Sleep
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The policy in force: the app's own, else app.json's, else the defaults;
// a stop period shorter than the freeze period is raised to it.
func TestSleepPolicyPrecedence(t *testing.T) {
	s := New(Settings{Sleep: SleepDefaults{After: 15 * time.Minute, StopAfter: 2 * time.Hour}}, Deps{})
	fromManifest := Release{Manifest: Manifest{Pier: PierSettings{Sleep: &SleepPolicy{After: 5 * time.Minute}}}}
	tests := []struct {
		name string
		app  App
		rel  Release
		want SleepPolicy
	}{
		{"defaults", App{}, Release{}, SleepPolicy{After: 15 * time.Minute, StopAfter: 2 * time.Hour}},
		{"app.json", App{}, fromManifest, SleepPolicy{After: 5 * time.Minute, StopAfter: 2 * time.Hour}},
		{"sleep:set wins", App{Sleep: &SleepPolicy{Never: true}}, fromManifest, SleepPolicy{Never: true, After: 15 * time.Minute, StopAfter: 2 * time.Hour}},
		{"stop raised", App{Sleep: &SleepPolicy{After: 3 * time.Hour}}, Release{}, SleepPolicy{After: 3 * time.Hour, StopAfter: 3 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SleepPolicyFor(tt.app, tt.rel, s.set.Sleep); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

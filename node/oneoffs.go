package node

import (
	"fmt"
	"sync"
)

// Bounds of one-off containers (`run`, cron jobs, runs other machines
// ask for) running on this machine at once: DefaultMaxOneOffs in all
// unless Settings.MaxOneOffs says otherwise, MaxOneOffsPerApp of one app.
// The release phase and predeploy are not counted: deploys of one app
// are serialized already.
const (
	DefaultMaxOneOffs = 8
	MaxOneOffsPerApp  = 3
)

// oneOffSlots counts the one-off containers running, by app. Safe for
// concurrent use; the zero value with max set is ready.
type oneOffSlots struct {
	max   int
	mu    sync.Mutex
	total int
	byApp map[string]int // only apps with one running
}

// take counts a one-off of appName in, or says why it may not start: past
// the machine's or the app's bound it is refused at once, not queued, so
// that a caller is never left waiting on another app's runs.
func (s *oneOffSlots) take(appName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.byApp[appName] >= MaxOneOffsPerApp:
		return fmt.Errorf("%s runs %d one-off containers already (run, cron jobs), the most for one app; wait for one to end, or end it, and try again", appName, s.byApp[appName])
	case s.total >= s.max:
		return fmt.Errorf("this machine runs %d one-off containers already (run, cron jobs), the most at once (pier serve --max-one-offs raises it); wait for one to end and try again", s.total)
	}
	if s.byApp == nil {
		s.byApp = map[string]int{}
	}
	s.byApp[appName]++
	s.total++
	return nil
}

// release counts out a one-off take counted in.
func (s *oneOffSlots) release(appName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.byApp[appName]--; s.byApp[appName] <= 0 {
		delete(s.byApp, appName)
	}
}

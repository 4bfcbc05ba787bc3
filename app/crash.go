package app

import (
	"time"
)

// Crash backoff: a process that dies is restarted at once, and if it keeps
// dying after 1s, 2s, 4s... up to maxBackoff; it is forgotten once it
// stayed up for stableAfter.
const (
	minBackoff  = time.Second
	maxBackoff  = 5 * time.Minute
	stableAfter = 2 * time.Minute
)

// crashState is what pier knows of one process type that crashed.
type crashState struct {
	Count      int
	Last       time.Time
	Next       time.Time // no restart before
	LastOutput []string
}

func crashKey(app, proc string) string { return app + "/" + proc }

// recordCrash notes that a process of app died and schedules its restart.
func (s *Service) recordCrash(app, proc string, output []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.crashes[crashKey(app, proc)]
	if st == nil || time.Since(st.Last) > stableAfter {
		st = &crashState{}
		s.crashes[crashKey(app, proc)] = st
	}
	st.Count++
	st.Last = time.Now()
	var delay time.Duration
	if st.Count > 1 {
		delay = min(minBackoff<<min(st.Count-2, 20), maxBackoff)
	}
	st.Next = st.Last.Add(delay)
	if len(output) > 0 {
		st.LastOutput = output
	}
}

// mayRestart reports whether a crashed process's backoff has elapsed.
func (s *Service) mayRestart(app, proc string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.crashes[crashKey(app, proc)]
	return st == nil || !time.Now().Before(st.Next)
}

// crash returns the crash state of a process, if it crashed lately.
func (s *Service) crash(app, proc string) (crashState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.crashes[crashKey(app, proc)]
	if st == nil || time.Since(st.Last) > stableAfter {
		return crashState{}, false
	}
	return *st, true
}

// clearCrashes forgets an app's crashes: a new release or a user's restart
// starts afresh.
func (s *Service) clearCrashes(app string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.crashes {
		if len(k) > len(app) && k[:len(app)+1] == app+"/" {
			delete(s.crashes, k)
		}
	}
}

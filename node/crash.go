package node

import (
	"time"

	"pier/app"
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
type crashState = app.Crash

func crashKey(appName, proc string) string { return appName + "/" + proc }

// recordCrash notes that a process of an app died and schedules its restart.
func (n *Actuator) recordCrash(appName, proc string, output []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.crashes[crashKey(appName, proc)]
	if st == nil || time.Since(st.Last) > stableAfter {
		st = &crashState{}
		n.crashes[crashKey(appName, proc)] = st
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
func (n *Actuator) mayRestart(appName, proc string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.crashes[crashKey(appName, proc)]
	return st == nil || !time.Now().Before(st.Next)
}

// Crash returns the crash state of a process, if it crashed lately.
func (n *Actuator) Crash(appName, proc string) (app.Crash, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.crashes[crashKey(appName, proc)]
	if st == nil || time.Since(st.Last) > stableAfter {
		return crashState{}, false
	}
	return *st, true
}

// clearCrashes forgets an app's crashes: a new release or a user's restart
// starts afresh.
func (n *Actuator) clearCrashes(appName string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k := range n.crashes {
		if len(k) > len(appName) && k[:len(appName)+1] == appName+"/" {
			delete(n.crashes, k)
		}
	}
}

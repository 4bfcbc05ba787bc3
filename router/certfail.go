package router

import (
	"fmt"
	"maps"
	"strings"
	"time"
)

// certFailure is what the router knows of a name whose certificate could
// not be obtained.
type certFailure struct {
	err   string
	at    time.Time
	count int
}

// retryAfter approximates certmagic's retry schedule for a certificate
// that failed count times in a row (its retryIntervals).
func retryAfter(count int) time.Duration {
	schedule := []time.Duration{time.Minute, 2 * time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 20 * time.Minute}
	if count-1 < len(schedule) {
		return schedule[max(count-1, 0)]
	}
	return 30 * time.Minute
}

// maxCertError bounds a failure's message as reports show it.
const maxCertError = 300

// maxCertFailures bounds the names whose failures are remembered; names
// are only ever hosts the route table serves, but domains come and go.
const maxCertFailures = 4096

// certFailed records that name's certificate could not be obtained.
func (c *certs) certFailed(name string, err any) {
	msg := strings.TrimSpace(fmt.Sprint(err))
	if len(msg) > maxCertError {
		msg = msg[:maxCertError] + "..."
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[string]certFailure{}
	if old := c.failures.Load(); old != nil {
		next = maps.Clone(*old)
	}
	if len(next) >= maxCertFailures {
		for k := range next { // any one
			delete(next, k)
			break
		}
	}
	f := next[name]
	next[name] = certFailure{err: msg, at: time.Now(), count: f.count + 1}
	c.failures.Store(&next)
}

// certObtained forgets name's failures.
func (c *certs) certObtained(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.failures.Load()
	if old == nil {
		return
	}
	if _, ok := (*old)[name]; !ok {
		return
	}
	next := maps.Clone(*old)
	delete(next, name)
	c.failures.Store(&next)
}

// failure returns name's last failure and when the next try is due, if
// its certificate failed and none was obtained since.
func (c *certs) failure(name string) (f certFailure, next time.Time, ok bool) {
	m := c.failures.Load()
	if m == nil {
		return certFailure{}, time.Time{}, false
	}
	f, ok = (*m)[strings.ToLower(name)]
	return f, f.at.Add(retryAfter(f.count)), ok
}

package router

import (
	"crypto/sha256"
	"errors"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/singleflight"

	"pier/app"
	"pier/ratelimit"
)

var (
	errAuthRequired = errors.New("access rules: credentials required")
	errForbidden    = errors.New("access rules: client address not allowed")
)

// tooManyAttempts refuses a client address that sent wrong credentials
// too often, for Wait.
type tooManyAttempts struct{ wait time.Duration }

func (e *tooManyAttempts) Error() string {
	return "access rules: too many wrong passwords from this address"
}

// Credential checks cost a bcrypt comparison (tens of milliseconds), far
// more than proxying a request. A header that passed is remembered, by its
// SHA-256 (never the password itself), until verifiedFor after its last
// use: a busy client never waits for bcrypt again, nor do all its requests
// in flight run it at once when the memory runs out. Requests that bring a
// header not yet remembered together share one comparison. A change of the
// rules (a password set, a user removed) builds new rules with an empty
// memory. At most maxVerified headers are remembered per app; past that the
// memory starts over. Failed checks are never remembered.
const (
	verifiedFor = 5 * time.Minute
	maxVerified = 1024
)

// Wrong credentials are limited per client address, over all apps: after
// maxAuthFailures within authFailureWindow, the address gets 429 without a
// bcrypt comparison until its oldest failure leaves the window. A request
// without credentials (a browser's first) is not a failure.
const (
	maxAuthFailures   = 10
	authFailureWindow = time.Minute
)

// accessRules are one app's app.AccessRules, ready for the request path.
// They are built when the rules change and never modified, except for the
// memory of verified credentials.
type accessRules struct {
	auth      bool
	users     map[string][]byte // user -> bcrypt hash
	allow     []netip.Prefix
	challenge string // the WWW-Authenticate header of a 401

	mu       sync.Mutex
	verified map[[sha256.Size]byte]time.Time // header hash -> until when
	checks   singleflight.Group              // bcrypt comparisons under way, by header hash
}

// dummyHash is compared against for unknown users, so that a wrong user
// name takes as long as a wrong password. It is made on first use: bcrypt
// at start would slow every run of the binary, CLI included.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("pier"), bcrypt.DefaultCost)
	return h
})

// SetAccess implements app.Routes: app's requests must pass rules (see
// app.AccessRules) before they count as activity, wake the app or reach it.
// Open rules remove any.
func (r *Router) SetAccess(appName string, rules app.AccessRules) {
	appName = strings.ToLower(appName)
	var ar *accessRules
	if !rules.Open() {
		ar = &accessRules{auth: rules.Auth, allow: rules.Allow, users: make(map[string][]byte, len(rules.Users)),
			challenge: `Basic realm="` + appName + `", charset="UTF-8"`}
		for u, h := range rules.Users {
			ar.users[u] = []byte(h)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	next := maps.Clone(*r.access.Load())
	if ar == nil {
		delete(next, appName)
	} else {
		next[appName] = ar
	}
	r.access.Store(&next)
}

// accessChallenge is the WWW-Authenticate header of app's 401s.
func (r *Router) accessChallenge(appName string) string {
	if a := (*r.access.Load())[appName]; a != nil {
		return a.challenge
	}
	return `Basic realm="` + appName + `", charset="UTF-8"`
}

// denied checks req against app's access rules: nil if it may pass,
// errAuthRequired or errForbidden if not.
func (r *Router) denied(appName string, req *http.Request) error {
	rules := *r.access.Load()
	if len(rules) == 0 {
		return nil
	}
	a := rules[appName]
	if a == nil {
		return nil
	}
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		ip := ap.Addr().Unmap()
		for _, p := range r.appNets {
			if p.Contains(ip) {
				// An app's own container is no trusted network, even
				// inside an allowlist that covers it.
				return a.checkAs(req, r.authFails, false)
			}
		}
		if peers := r.peers.Load(); peers != nil && slices.Contains(*peers, ip) {
			// Nor is another machine of the cluster: its containers'
			// requests come from its address (masqueraded).
			return a.checkAs(req, r.authFails, false)
		}
	}
	return a.check(req, r.authFails)
}

// SetPeers sets the addresses of the cluster's other machines. Their
// containers reach this router through their host's address, so a
// request from one of them never passes an allowlist as coming from an
// allowed network, as one from Config.AppNetworks does not: it needs the
// app's password. Each call replaces the last; nil: none.
func (r *Router) SetPeers(addrs []netip.Addr) {
	peers := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		peers[i] = a.Unmap()
	}
	r.peers.Store(&peers)
}

// check applies the rules to req; fails limits wrong credentials.
func (a *accessRules) check(req *http.Request, fails *ratelimit.Attempts) error {
	return a.checkAs(req, fails, true)
}

// checkAs is check; the allowlist applies only if allowlisted.
func (a *accessRules) checkAs(req *http.Request, fails *ratelimit.Attempts, allowlisted bool) error {
	// The TCP peer: X-Forwarded-For and the like are the client's to forge.
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		ip = ap.Addr().Unmap()
	}
	if len(a.allow) > 0 {
		if ip.IsValid() && allowlisted {
			for _, p := range a.allow {
				if p.Contains(ip) {
					return nil
				}
			}
		}
		if !a.auth {
			return errForbidden
		}
	}
	if !a.auth {
		return nil
	}
	h := req.Header.Get("Authorization")
	if h == "" {
		return errAuthRequired
	}
	key := sha256.Sum256([]byte(h))
	a.mu.Lock()
	now := time.Now()
	if until, ok := a.verified[key]; ok && now.Before(until) {
		a.verified[key] = now.Add(verifiedFor)
		a.mu.Unlock()
		return nil
	}
	a.mu.Unlock()
	client := ratelimit.Key(ip)
	type outcome struct {
		passed bool
		wait   time.Duration
	}
	// Requests with the same header share one check, counted once; the
	// attempt counts before bcrypt runs, so concurrent guesses cannot
	// outrun the limit.
	v, _, _ := a.checks.Do(string(key[:]), func() (any, error) {
		if wait := fails.Attempt(client); wait > 0 {
			return outcome{wait: wait}, nil
		}
		if !a.verify(req, key) {
			return outcome{}, nil
		}
		fails.Succeeded(client)
		return outcome{passed: true}, nil
	})
	switch o := v.(outcome); {
	case o.wait > 0:
		return &tooManyAttempts{wait: o.wait}
	case !o.passed:
		return errAuthRequired
	}
	return nil
}

// verify compares req's credentials with the user's bcrypt hash, and
// remembers the header of key if they match.
func (a *accessRules) verify(req *http.Request, key [sha256.Size]byte) bool {
	user, pass, ok := req.BasicAuth()
	hash, known := a.users[user]
	if !known {
		hash = dummyHash()
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || !ok || !known {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verified == nil || len(a.verified) >= maxVerified {
		a.verified = map[[sha256.Size]byte]time.Time{}
	}
	a.verified[key] = time.Now().Add(verifiedFor)
	return true
}

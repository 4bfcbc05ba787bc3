package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Sessions live in memory, keyed by the SHA-256 of their cookie's random ID
// (so a lookup's timing says nothing about a valid ID); a restart of the
// daemon ends them all. Every visitor gets one on the login page, so that
// the login form has a CSRF token too; logging in replaces it with an
// admin session under a new ID.
//
// The cookie is HttpOnly and SameSite=Strict. It is Secure, and named with
// the __Host- prefix (no sibling subdomain, such as an app at
// <app>.<domain>, can set or shadow it), when the request came over TLS;
// on plain http://pier.localhost a browser would not send a Secure cookie
// back, so there it is neither. SameSite does not stop requests from apps
// on sibling subdomains (they are the same site): the per-session CSRF
// token does.

const (
	cookieName    = "pier_session"
	tlsCookieName = "__Host-pier_session"
	anonTTL       = 30 * time.Minute // a visitor who has not logged in
	maxSessions   = 1000
)

type session struct {
	key     [32]byte
	csrf    string
	admin   bool
	expires time.Time
	stamp   string // the admin password's when an admin session began

	mu       sync.Mutex
	flash    string
	flashBad bool
}

// setFlash leaves a message for the next page the session sees.
func (s *session) setFlash(msg string, bad bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flash, s.flashBad = msg, bad
}

func (s *session) takeFlash() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, bad := s.flash, s.flashBad
	s.flash, s.flashBad = "", false
	return msg, bad
}

// validCSRF compares tok with the session's token in constant time.
func (s *session) validCSRF(tok string) bool {
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrf)) == 1
}

type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[[32]byte]*session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[[32]byte]*session{}}
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session and returns it with the ID for its cookie.
func (ss *sessions) create(admin bool) (*session, string) {
	id := randomString()
	ttl := anonTTL
	if admin {
		ttl = ss.ttl
	}
	s := &session{key: sha256.Sum256([]byte(id)), csrf: randomString(), admin: admin, expires: time.Now().Add(ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		ss.sweep(true) // visitors who never logged in make room
	}
	if len(ss.m) >= maxSessions && !admin {
		return s, id // too many visitors: this one's login form will fail
	}
	ss.m[s.key] = s
	return s, id
}

// sweep drops expired sessions and, with anon, every anonymous one. The
// caller holds mu.
func (ss *sessions) sweep(anon bool) {
	now := time.Now()
	for k, s := range ss.m {
		if now.After(s.expires) || anon && !s.admin {
			delete(ss.m, k)
		}
	}
}

// get returns the live session with this ID, or nil.
func (ss *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[k]
	if s != nil && time.Now().After(s.expires) {
		delete(ss.m, k)
		return nil
	}
	return s
}

func (ss *sessions) delete(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, s.key)
}

func cookieNameFor(r *http.Request) string {
	if r.TLS != nil {
		return tlsCookieName
	}
	return cookieName
}

// setCookie hands the browser a session ID; an empty id removes it.
func setCookie(c echo.Context, id string, ttl time.Duration) {
	r := c.Request()
	ck := &http.Cookie{Name: cookieNameFor(r), Value: id, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(ttl.Seconds())}
	if id == "" {
		ck.MaxAge = -1
	}
	c.SetCookie(ck)
}

const sessionKey = "session"

// withSession loads the request's session, if any.
func (d *Dashboard) withSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ck, err := c.Cookie(cookieNameFor(c.Request())); err == nil {
			if s := d.sessions.get(ck.Value); s != nil {
				c.Set(sessionKey, s)
			}
		}
		return next(c)
	}
}

func sessionOf(c echo.Context) *session {
	s, _ := c.Get(sessionKey).(*session)
	return s
}

// requireAdmin lets only the logged-in admin through: others are sent to
// the login page (or get a 401, for the log stream and forms).
func (d *Dashboard) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s := sessionOf(c); s != nil && s.admin {
			// A password changed since the login ends the session.
			stamp, err := d.auth.AdminPasswordStamp(c.Request().Context())
			if err != nil {
				return err
			}
			if stamp == s.stamp {
				return next(c)
			}
			d.sessions.delete(s)
		}
		if c.Request().Method == http.MethodGet && c.Request().Header.Get("Accept") != "text/event-stream" {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		return echo.NewHTTPError(http.StatusUnauthorized, "Log in first.")
	}
}

// csrf refuses a POST whose _csrf form field (or X-CSRF-Token header)
// is not its session's token, with a 403.
func (d *Dashboard) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		tok := c.Request().Header.Get("X-CSRF-Token")
		if tok == "" {
			tok = c.FormValue("_csrf")
		}
		if s := sessionOf(c); s == nil || !s.validCSRF(tok) {
			return echo.NewHTTPError(http.StatusForbidden,
				"This form has expired or did not come from this dashboard (no valid CSRF token): reload the page and try again.")
		}
		return next(c)
	}
}

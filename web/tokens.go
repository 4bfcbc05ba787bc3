package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// LoginTokenTTL is how long a login link is valid.
const LoginTokenTTL = 15 * time.Minute

// LoginTokens are the outstanding one-time login tokens of admin:login's
// links, by the SHA-256 of the token: a lookup by hash reveals nothing
// about a token through timing. They live in this daemon's memory: a
// restart forgets them. The zero value is ready to use and safe for
// concurrent use.
type LoginTokens struct {
	mu     sync.Mutex
	expiry map[[32]byte]time.Time
}

// NewLoginToken returns a random single-use login token, valid for
// LoginTokenTTL, and when it expires. Tokens live in memory: a restart of
// the daemon forgets them.
func (t *LoginTokens) NewLoginToken() (string, time.Time) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	tok := base64.RawURLEncoding.EncodeToString(b)
	exp := time.Now().Add(LoginTokenTTL)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.expiry == nil {
		t.expiry = map[[32]byte]time.Time{}
	}
	now := time.Now()
	for k, e := range t.expiry {
		if now.After(e) {
			delete(t.expiry, k)
		}
	}
	t.expiry[sha256.Sum256([]byte(tok))] = exp
	return tok, exp
}

// RedeemLoginToken reports whether tok is an outstanding, unexpired login
// token, and uses it up: a second call with the same token is false.
func (t *LoginTokens) RedeemLoginToken(tok string) bool {
	if tok == "" {
		return false
	}
	k := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.expiry[k]
	delete(t.expiry, k)
	return ok && time.Now().Before(exp)
}

package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Logging in to the dashboard: with the admin password (admin:password
// sets it; its bcrypt hash is a setting in the store) or with a one-time
// login link (admin:login), whose tokens live in memory only: a restart
// forgets them.

// MinPasswordLen is the shortest admin password pier accepts.
const MinPasswordLen = 10

// LoginTokenTTL is how long a login link is valid.
const LoginTokenTTL = 15 * time.Minute

// settingAdminPassword is the setting that holds the admin password's hash.
const settingAdminPassword = "admin_password"

// Errors of CheckAdminPassword.
var (
	ErrNoPassword    = errors.New("no admin password is set: run pier admin:password on the server, or log in with the link pier admin:login prints")
	ErrWrongPassword = errors.New("wrong password")
)

// SetSetting records an installation-wide setting.
type SetSetting struct {
	Key, Value string
}

func (SetSetting) isChange() {}

// SetAdminPassword sets the dashboard's admin password: at least
// MinPasswordLen characters, at most 72 bytes (bcrypt's limit). Only its
// bcrypt hash is stored.
func (s *Service) SetAdminPassword(ctx context.Context, password string) error {
	if n := len([]rune(password)); n < MinPasswordLen {
		return fmt.Errorf("the password is %d characters long: it needs at least %d", n, MinPasswordLen)
	}
	if len(password) > 72 {
		return fmt.Errorf("the password is %d bytes long: at most 72 count", len(password))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.apply(ctx, SetSetting{Key: settingAdminPassword, Value: string(hash)})
}

// dummyHash is compared against when no password is set, so that a refusal
// takes as long either way. It is made on first use, not at start.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("pier-no-password-set"), bcrypt.DefaultCost)
	return h
})

// CheckAdminPassword returns nil if password is the admin password,
// ErrWrongPassword if not, ErrNoPassword if none is set. The comparison is
// bcrypt's, in constant time.
func (s *Service) CheckAdminPassword(ctx context.Context, password string) error {
	hash, err := s.store.Setting(ctx, settingAdminPassword)
	if errors.Is(err, ErrNotFound) {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return ErrNoPassword
	}
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return ErrWrongPassword
	}
	return nil
}

// loginTokens are the outstanding one-time login tokens, by the SHA-256 of
// the token: a lookup by hash reveals nothing about a token through timing.
type loginTokens struct {
	mu     sync.Mutex
	expiry map[[32]byte]time.Time
}

// NewLoginToken returns a random single-use login token, valid for
// LoginTokenTTL, and when it expires. Tokens live in memory: a restart of
// the daemon forgets them.
func (s *Service) NewLoginToken() (string, time.Time) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	tok := base64.RawURLEncoding.EncodeToString(b)
	exp := time.Now().Add(LoginTokenTTL)
	t := &s.tokens
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
func (s *Service) RedeemLoginToken(tok string) bool {
	if tok == "" {
		return false
	}
	k := sha256.Sum256([]byte(tok))
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.expiry[k]
	delete(t.expiry, k)
	return ok && time.Now().Before(exp)
}

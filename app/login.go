package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Logging in to the dashboard: with the admin password (admin:password
// sets it; its bcrypt hash is a setting in the store) or with a one-time
// login link (admin:login, see web.LoginTokens).

// MinPasswordLen is the shortest admin password pier accepts.
const MinPasswordLen = 10

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
func (s *Auth) SetAdminPassword(ctx context.Context, password string) error {
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

// AdminPasswordStamp names the admin password now set (a digest of its
// hash; "" if none): a session begun under another stamp ends, so that a
// password change logs everyone out.
func (s *Auth) AdminPasswordStamp(ctx context.Context) (string, error) {
	hash, err := s.store.Setting(ctx, settingAdminPassword)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(sum[:8]), nil
}

// CheckAdminPassword returns nil if password is the admin password,
// ErrWrongPassword if not, ErrNoPassword if none is set. The comparison is
// bcrypt's, in constant time.
func (s *Auth) CheckAdminPassword(ctx context.Context, password string) error {
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

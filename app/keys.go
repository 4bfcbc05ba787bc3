package app

import (
	"context"
	"fmt"
	"time"
)

// AddKey registers an SSH public key under a name. The caller parses the key
// (fingerprint and authorized_keys form); names follow the app name rules.
func (s *Auth) AddKey(ctx context.Context, k Key) (Key, error) {
	if err := ValidName(k.Name); err != nil {
		return Key{}, fmt.Errorf("key name: %w", err)
	}
	if k.Fingerprint == "" || k.PublicKey == "" {
		return Key{}, fmt.Errorf("key %s: no public key given", k.Name)
	}
	k.CreatedAt = time.Now().UTC()
	if err := s.apply(ctx, AddKey{Key: k}); err != nil {
		return Key{}, fmt.Errorf("add key %s: %w", k.Name, err)
	}
	return k, nil
}

// RemoveKey deletes a key by name. ErrNotFound if there is none.
func (s *Auth) RemoveKey(ctx context.Context, name string) error {
	if err := s.apply(ctx, RemoveKey{Name: name}); err != nil {
		return fmt.Errorf("remove key %s: %w", name, err)
	}
	return nil
}

// Keys lists registered keys.
func (s *Auth) Keys(ctx context.Context) ([]Key, error) { return s.store.Keys(ctx) }

// KeyByFingerprint finds the key a client proved it holds. ErrNotFound if the
// key is not registered.
func (s *Auth) KeyByFingerprint(ctx context.Context, fp string) (Key, error) {
	return s.store.KeyByFingerprint(ctx, fp)
}

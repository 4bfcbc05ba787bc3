package app

import (
	"context"
	"fmt"
	"maps"
)

// maxCheckTypes bounds the types one checks:* command names.
const maxCheckTypes = 32

// SetCheckMode sets how deploys check the new instances of types of app
// name (every type if none): "" (checked, the default), CheckSkip or
// CheckDisabled. It takes effect at the next deploy or restart.
func (s *Service) SetCheckMode(ctx context.Context, name string, types []string, mode string) error {
	switch mode {
	case "", CheckSkip, CheckDisabled:
	default:
		return fmt.Errorf("unknown check mode %q", mode)
	}
	if len(types) > maxCheckTypes {
		return fmt.Errorf("%d process types: at most %d at once", len(types), maxCheckTypes)
	}
	for _, t := range types {
		if !validProcessType(t) {
			return fmt.Errorf("invalid process type %q: want a Procfile name such as web or worker", t)
		}
	}
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	checks := map[string]string{}
	if len(types) == 0 {
		if mode != "" {
			checks["*"] = mode
		}
	} else {
		maps.Copy(checks, a.Checks)
		for _, t := range types {
			checks[t] = mode
			if checks["*"] == mode {
				delete(checks, t)
			}
		}
	}
	if maps.Equal(checks, a.Checks) || len(checks) == 0 && len(a.Checks) == 0 {
		return nil
	}
	return s.apply(ctx, SetChecks{App: name, Checks: checks})
}

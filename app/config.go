package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedEnv are set by pier for every process; users cannot override them.
var reservedEnv = map[string]bool{"PORT": true}

// ValidEnvName checks a config var name.
func ValidEnvName(name string) error {
	if !envName.MatchString(name) {
		return fmt.Errorf("config var name %q is invalid: use letters, digits and underscores, not starting with a digit", trim(name))
	}
	if reservedEnv[name] {
		return fmt.Errorf("config var %s is set by pier and cannot be changed", name)
	}
	return nil
}

// Config returns an app's config vars.
func (s *Service) Config(ctx context.Context, name string) (map[string]string, error) {
	a, err := s.App(ctx, name)
	if err != nil {
		return nil, err
	}
	return a.Config, nil
}

// ConfigChange sets and unsets config vars of one app.
type ConfigChange struct {
	App   string
	Set   map[string]string
	Unset []string
	// NoRestart records the change for the next release instead of making
	// one now.
	NoRestart bool
	User      string
	Out       io.Writer
}

// ChangeConfig applies c. Unless c.NoRestart, or the app was never deployed,
// the change makes a new release of the current code with the new config and
// rolls it out with zero downtime; if that fails, nothing changes.
func (s *Service) ChangeConfig(ctx context.Context, c ConfigChange) error {
	for k := range c.Set {
		if err := ValidEnvName(k); err != nil {
			return err
		}
	}
	for _, k := range c.Unset {
		if err := ValidEnvName(k); err != nil {
			return err
		}
	}
	out := c.Out
	if out == nil {
		out = io.Discard
	}
	a, unlock, err := s.locked(ctx, c.App)
	if err != nil {
		return err
	}
	defer unlock()
	cfg := map[string]string{}
	for k, v := range a.Config {
		cfg[k] = v
	}
	for k, v := range c.Set {
		cfg[k] = v
	}
	for _, k := range c.Unset {
		delete(cfg, k)
	}
	if maps.Equal(cfg, a.Config) {
		// Nothing to record, nothing to restart: an unset of a var that
		// is not set, or a set to the value it has.
		fmt.Fprintf(out, "-----> Config of %s unchanged (%s): no new release\n", c.App, describeUnchanged(c, a.Config))
		return nil
	}
	if c.NoRestart || a.Release == 0 {
		if err := s.apply(ctx, SetConfig{App: c.App, Config: cfg}); err != nil {
			return err
		}
		fmt.Fprintf(out, "-----> Config of %s recorded; it applies from the next release\n", c.App)
		return nil
	}
	cur, err := s.store.Release(ctx, c.App, a.Release)
	if err != nil {
		return err
	}
	version, err := s.nextVersion(ctx, c.App)
	if err != nil {
		return err
	}
	rel := cur
	rel.Version, rel.Config, rel.CreatedBy, rel.CreatedAt = version, cfg, c.User, time.Now().UTC()
	rel.Description = describeConfigChange(c)
	if err := s.activate(ctx, a, rel, true, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "-----> Released v%d of %s (%s)\n", rel.Version, c.App, rel.Description)
	return nil
}

// describeUnchanged says why a config change changed nothing.
func describeUnchanged(c ConfigChange, cfg map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.Set)) {
		parts = append(parts, k+" has that value already")
	}
	for _, k := range c.Unset {
		if _, ok := cfg[k]; !ok {
			parts = append(parts, k+" is not set")
		}
	}
	return strings.Join(parts, ", ")
}

func describeConfigChange(c ConfigChange) string {
	var parts []string
	if len(c.Set) > 0 {
		keys := make([]string, 0, len(c.Set))
		for k := range c.Set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts = append(parts, "config set "+strings.Join(keys, ", "))
	}
	if len(c.Unset) > 0 {
		parts = append(parts, "config unset "+strings.Join(c.Unset, ", "))
	}
	return strings.Join(parts, "; ")
}

package commands

import (
	"context"
	"fmt"
	"io"
	"strings"

	"pier/app"
)

// The fake's methods for releases, config, processes, storage and run: each
// records its call; an unknown app is app.ErrNotFound.

func (p *platform) record(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf(format, a...))
	p.changes++
}

func (p *platform) known(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.touched = append(p.touched, name)
	if _, ok := p.apps[name]; !ok {
		return fmt.Errorf("app %q does not exist: %w", name, app.ErrNotFound)
	}
	return nil
}

func (p *platform) App(_ context.Context, name string) (app.App, error) {
	if err := p.known(name); err != nil {
		return app.App{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.apps[name], nil
}

func (p *platform) Config(_ context.Context, name string) (map[string]string, error) {
	if err := p.known(name); err != nil {
		return nil, err
	}
	return map[string]string{"SHORT": "abc", "LONG_SECRET": "0123456789abcdef"}, nil
}

func (p *platform) ChangeConfig(_ context.Context, c app.ConfigChange) error {
	if err := p.known(c.App); err != nil {
		return err
	}
	p.record("ChangeConfig %s set=%v unset=%v norestart=%v", c.App, c.Set, c.Unset, c.NoRestart)
	return nil
}

func (p *platform) Releases(_ context.Context, name string) ([]app.Release, error) {
	if err := p.known(name); err != nil {
		return nil, err
	}
	return []app.Release{{App: name, Version: 2, Description: "config set A"}, {App: name, Version: 1, Description: "deploy 1234abcd"}}, nil
}

func (p *platform) Release(_ context.Context, name string, v int) (app.Release, error) {
	if err := p.known(name); err != nil {
		return app.Release{}, err
	}
	if v > 2 {
		return app.Release{}, fmt.Errorf("%s has no release v%d: %w", name, v, app.ErrNotFound)
	}
	return app.Release{App: name, Version: v, Processes: map[string]string{"web": "node server.js"}}, nil
}

func (p *platform) Rollback(_ context.Context, name string, v int, user string, _ io.Writer) (app.Release, error) {
	if err := p.known(name); err != nil {
		return app.Release{}, err
	}
	p.record("Rollback %s v%d by %s", name, v, user)
	return app.Release{App: name, Version: 3}, nil
}

func (p *platform) Scale(_ context.Context, name string, counts map[string]int) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("Scale %s %v", name, counts)
	return nil
}

func (p *platform) Restart(_ context.Context, name string, _ io.Writer) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("Restart %s", name)
	return nil
}

func (p *platform) RestartType(_ context.Context, name, proc string, _ io.Writer) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("RestartType %s %s", name, proc)
	return nil
}

func (p *platform) Stop(_ context.Context, name string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("Stop %s", name)
	return nil
}

func (p *platform) Start(_ context.Context, name string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("Start %s", name)
	return nil
}

func (p *platform) Report(_ context.Context, name string) (app.Report, error) {
	a, err := p.App(context.Background(), name)
	if err != nil {
		return app.Report{}, err
	}
	return app.Report{App: a, Processes: p.procs[name]}, nil
}

func (p *platform) Mount(_ context.Context, name string, v app.Volume) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("Mount %s %s:%s", name, v.Name, v.Path)
	return nil
}

func (p *platform) Unmount(_ context.Context, name, volume string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("Unmount %s %s", name, volume)
	return nil
}

func (p *platform) Volumes(_ context.Context, name string) ([]app.Volume, error) {
	if err := p.known(name); err != nil {
		return nil, err
	}
	return nil, nil
}

func (p *platform) SetCheckMode(_ context.Context, name string, types []string, mode string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("SetCheckMode %s %v %q", name, types, mode)
	return nil
}

func (p *platform) AddCert(_ context.Context, name string, c app.AppCert) ([]string, error) {
	if err := p.known(name); err != nil {
		return nil, err
	}
	p.record("AddCert %s cert=%d key=%d", name, strings.Count(c.CertPEM, "BEGIN CERTIFICATE"), strings.Count(c.KeyPEM, "-----BEGIN"))
	return []string{name + ".example.com"}, nil
}

func (p *platform) RemoveCert(_ context.Context, name string) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("RemoveCert %s", name)
	return nil
}

func (p *platform) Orphans(context.Context) ([]app.OrphanVolumes, error) {
	return []app.OrphanVolumes{{ID: "old.20261203T065800.000000000Z", App: "old", Volumes: []string{"data"}, Bytes: 2048}}, nil
}

func (p *platform) PurgeOrphan(_ context.Context, id string) error {
	p.record("PurgeOrphan %s", id)
	return nil
}

func (p *platform) Enter(_ context.Context, r app.EnterRequest) (int, error) {
	if err := p.known(r.App); err != nil {
		return -1, err
	}
	p.record("Enter %s %s %s tty=%v", r.App, r.Process, r.Command, r.TTY != nil)
	return 0, nil
}

func (p *platform) Run(_ context.Context, r app.RunRequest) (int, error) {
	name, command, out := r.App, r.Command, r.Out
	if err := p.known(name); err != nil {
		return -1, err
	}
	p.record("Run %s %s", name, command)
	fmt.Fprintf(out, "ran %s\n", command)
	if command == "false" {
		return 1, nil
	}
	return 0, nil
}

func (p *platform) SetSleepPolicy(_ context.Context, name string, pol *app.SleepPolicy) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("SetSleepPolicy %s %+v", name, pol)
	return nil
}

func (p *platform) SleepPolicyOf(_ context.Context, name string) (app.SleepPolicy, error) {
	return app.SleepPolicy{}, p.known(name)
}

func (p *platform) SleepNow(_ context.Context, name string, deep bool) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("SleepNow %s deep=%v", name, deep)
	return nil
}

func (p *platform) Destroy(_ context.Context, name string, out io.Writer) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("Destroy %s", name)
	return nil
}

func (p *platform) Rename(_ context.Context, from, to string, out io.Writer) error {
	if err := p.known(from); err != nil {
		return err
	}
	if p.known(to) == nil {
		return fmt.Errorf("an app named %s exists already: %w", to, app.ErrExists)
	}
	p.record("Rename %s %s", from, to)
	return nil
}

func (p *platform) SetLimits(_ context.Context, name string, l app.Limits) error {
	if err := p.known(name); err != nil {
		return err
	}
	p.record("SetLimits %s %+v", name, l)
	return nil
}

// Record keeps audit events apart from calls, so tests can see both.
func (p *platform) Record(_ context.Context, e app.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *platform) Events(_ context.Context, name string, limit int) ([]app.Event, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.touched = append(p.touched, name)
	return p.events, nil
}

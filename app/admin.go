package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Audit is the log of changes people made.
type Audit interface {
	AddEvent(ctx context.Context, e Event) error
	// Events lists up to limit events, newest first; of one app unless app is "".
	Events(ctx context.Context, app string, limit int) ([]Event, error)
}

// Record adds an event to the audit log; a failure is logged, not returned:
// the change it records already happened.
func (s *Service) Record(ctx context.Context, e Event) {
	if s.audit == nil {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	if err := s.audit.AddEvent(context.WithoutCancel(ctx), e); err != nil {
		s.log.Warn("audit log", "err", err, "who", e.Who, "action", e.Action)
	}
}

// Events lists the audit log, newest first.
func (s *Service) Events(ctx context.Context, app string, limit int) ([]Event, error) {
	if app != "" {
		if _, err := s.App(ctx, app); err != nil {
			return nil, err
		}
	}
	if limit <= 0 {
		limit = 50
	}
	return s.audit.Events(ctx, app, limit)
}

// Destroy removes an app: its processes, route, images, releases, config,
// cron entries and history, logs, build cache, git repository and the SSH
// keys limited to it. Its volumes' data stays on disk, set aside.
func (s *Service) Destroy(ctx context.Context, name string, out io.Writer) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if out == nil {
		out = io.Discard
	}
	rs, err := s.store.Releases(ctx, name)
	if err != nil {
		return err
	}
	keys, err := s.store.Keys(ctx)
	if err != nil {
		return err
	}
	var limited []string
	for _, k := range keys {
		if k.App == name {
			limited = append(limited, k.Name)
		}
	}
	if err := s.apply(ctx, DestroyApp{Name: name}); err != nil {
		return err
	}
	// Once the app is gone, so that nothing starts for it meanwhile (a
	// cron run finds no app).
	s.vacate(ctx, name)
	for _, f := range s.files {
		if err := f.RemoveFiles(name); err != nil {
			s.log.Warn("remove files of a destroyed app", "app", name, "err", err)
		}
	}
	images := map[string]bool{}
	for _, r := range rs {
		if !images[r.Image] {
			images[r.Image] = true
			s.removeImage(r.Image)
		}
	}
	if len(limited) > 0 {
		fmt.Fprintf(out, "-----> Removed the keys limited to %s: %s\n", name, strings.Join(limited, ", "))
	}
	fmt.Fprintf(out, "-----> Destroyed %s", name)
	if len(a.Volumes) > 0 {
		fmt.Fprintf(out, " (its %d volume(s) stay on disk, set aside: storage:list --orphans shows them, storage:purge deletes them)", len(a.Volumes))
	}
	fmt.Fprintln(out)
	return nil
}

// SetLimits sets an app's memory and CPU limits, over app.json's. They apply
// to processes started from now on: the command restarts the app.
func (s *Service) SetLimits(ctx context.Context, name string, l Limits) error {
	if err := l.validate(); err != nil {
		return err
	}
	_, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	return s.apply(ctx, SetLimits{App: name, Limits: l})
}

// LimitsFor are the limits of a's processes of rel: resource:limit's, else
// app.json's, else the runtime's defaults (zero).
func LimitsFor(a App, rel Release) Limits {
	l := Limits{MemoryMiB: rel.Manifest.Pier.MemoryMiB, CPU: rel.Manifest.Pier.CPU}
	if a.Limits.MemoryMiB != 0 {
		l.MemoryMiB = a.Limits.MemoryMiB
	}
	if a.Limits.CPU != 0 {
		l.CPU = a.Limits.CPU
	}
	return l
}

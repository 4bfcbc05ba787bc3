package app

import (
	"context"
	"errors"
	"time"
)

// StartCronJob starts a run of an app's cron entry now and returns once it
// is started; the run goes on in the background like a scheduled one (the
// daemon's shutdown interrupts it) and is recorded with trigger "manual",
// whatever the entry's policy and suspension say. It is for callers that
// cannot wait for the run, such as the dashboard; cron:run, which streams
// the output, uses RunCronJob. It fails if there is no such entry, or while
// the scheduler is not running (pier starting or stopping).
func (s *Service) StartCronJob(ctx context.Context, name, id string) error {
	e, err := s.cronEntry(ctx, name, id)
	if err != nil {
		return err
	}
	s.cron.mu.Lock()
	daemon := s.cron.ctx
	s.cron.mu.Unlock()
	if daemon == nil || !s.cron.add() {
		return errors.New("cron is not running: pier is starting or stopping; try again")
	}
	go func() {
		defer s.cron.running.Done()
		if _, err := s.runCron(daemon, name, e, TriggerManual, time.Now(), nil); err != nil && daemon.Err() == nil {
			s.log.Warn("cron: run started by hand", "app", name, "job", id, "err", err)
		}
	}()
	return nil
}

package cron

import (
	"context"
	"errors"
	"pier/app"
	"time"
)

// StartCronJob starts a run of an app's cron entry now and returns once it
// is started; the run goes on in the background like a scheduled one (the
// daemon's shutdown interrupts it) and is recorded with trigger "manual",
// whatever the entry's policy and suspension say. It is for callers that
// cannot wait for the run, such as the dashboard; cron:run, which streams
// the output, uses RunCronJob. It fails if there is no such entry, or while
// the scheduler is not running (pier starting or stopping).
func (c *Cron) StartCronJob(ctx context.Context, name, id string) error {
	e, err := c.cronEntry(ctx, name, id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	daemon := c.ctx
	c.mu.Unlock()
	if daemon == nil || !c.add() {
		return errors.New("cron is not running: pier is starting or stopping; try again")
	}
	go func() {
		defer c.running.Done()
		if _, err := c.runCron(daemon, name, e, app.TriggerManual, time.Now(), nil); err != nil && daemon.Err() == nil {
			c.log.Warn("cron: run started by hand", "app", name, "job", id, "err", err)
		}
	}()
	return nil
}

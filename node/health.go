package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"pier/app"
	"strconv"
	"time"
)

var errExited = errors.New("the web process exited")

// waitHealthy waits until a new web instance may take traffic. Without
// app.json checks: its port accepts connections and "/" answers below 500.
// With them: its port accepts connections, then each startup and readiness
// check passes within its attempts (Dokku's semantics: initialDelay, then
// up to attempts tries, wait seconds apart, each within timeout). It gives
// up early if the process exits, and after the ready timeout. While it
// waits, out (nil: nobody) hears every progressEvery what the checks saw.
func (n *Actuator) waitHealthy(ctx context.Context, in app.Instance, checks []app.HealthCheck, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, n.set.ReadyTimeout)
	defer cancel()
	ctx, exited := context.WithCancelCause(ctx)
	defer exited(nil)
	go n.watchExit(ctx, in.ID, exited)

	if out == nil {
		out = io.Discard
	}
	err := n.checks(ctx, in, checks, out)
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, errExited) {
		return cause
	}
	if ctx.Err() != nil {
		return fmt.Errorf("no answer within %s (%v); the web process must listen on $PORT (%d)",
			n.set.ReadyTimeout, err, in.Port)
	}
	return err
}

func (n *Actuator) checks(ctx context.Context, in app.Instance, checks []app.HealthCheck, out io.Writer) error {
	var gating []app.HealthCheck
	for _, c := range checks {
		if c.Type == "" || c.Type == "startup" || c.Type == "readiness" {
			gating = append(gating, c)
		}
	}
	start := time.Now()
	if len(gating) == 0 {
		return progress(ctx, out, in, start, func(ctx context.Context) error { return n.health.Ready(ctx, in.App, in.Addr) })
	}
	if err := progress(ctx, out, in, start, func(ctx context.Context) error { return n.health.Listening(ctx, in.Addr) }); err != nil {
		return err
	}
	for _, c := range gating {
		if err := n.runCheck(ctx, in, c, out); err != nil {
			return err
		}
	}
	return nil
}

// runCheck runs one app.json check with its attempts.
func (n *Actuator) runCheck(ctx context.Context, in app.Instance, c app.HealthCheck, out io.Writer) error {
	addr := in.Addr
	if c.Port != 0 {
		host, _, _ := net.SplitHostPort(in.Addr)
		addr = net.JoinHostPort(host, strconv.Itoa(c.Port))
	}
	attempts := max(c.Attempts, 1)
	name := c.Name
	if name == "" {
		name = "health check " + c.Path
	}
	if err := sleep(ctx, time.Duration(c.InitialDelay)*time.Second); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var err error
	for i := 1; i <= attempts; i++ {
		if err = n.health.Probe(ctx, in.App, addr, c); err == nil {
			return nil
		}
		if i < attempts {
			fmt.Fprintf(out, "       %s: attempt %d of %d: %v\n", name, i, attempts, err)
			if serr := sleep(ctx, time.Duration(c.Wait)*time.Second); serr != nil {
				break
			}
		}
	}
	return fmt.Errorf("%s failed after %d attempts: %v", name, attempts, err)
}

// progressEvery is how often a push hears what a new web instance's
// checks saw while it does not answer yet.
const progressEvery = 5 * time.Second

// progress calls wait (which returns nil once in answers, or its last
// failure when its ctx ends) in windows of progressEvery, telling out
// what each window ended with, until wait succeeds or ctx ends.
func progress(ctx context.Context, out io.Writer, in app.Instance, start time.Time, wait func(context.Context) error) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, progressEvery)
		err := wait(wctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		fmt.Fprintf(out, "       %s is not answering yet after %s: %v\n", in.Process, time.Since(start).Round(time.Second), err)
	}
}

// watchExit cancels ctx with errExited if the instance's process exits.
func (n *Actuator) watchExit(ctx context.Context, id string, exited context.CancelCauseFunc) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ok, err := n.runtime.Running(ctx, id); err == nil && !ok {
				exited(errExited)
				return
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package node

import (
	"context"
	"errors"
	"fmt"
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
// up early if the process exits, and after the ready timeout.
func (n *Actuator) waitHealthy(ctx context.Context, in app.Instance, checks []app.HealthCheck) error {
	ctx, cancel := context.WithTimeout(ctx, n.set.ReadyTimeout)
	defer cancel()
	ctx, exited := context.WithCancelCause(ctx)
	defer exited(nil)
	go n.watchExit(ctx, in.ID, exited)

	err := n.checks(ctx, in, checks)
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

func (n *Actuator) checks(ctx context.Context, in app.Instance, checks []app.HealthCheck) error {
	var gating []app.HealthCheck
	for _, c := range checks {
		if c.Type == "" || c.Type == "startup" || c.Type == "readiness" {
			gating = append(gating, c)
		}
	}
	if len(gating) == 0 {
		return n.health.Ready(ctx, in.App, in.Addr)
	}
	if err := n.health.Listening(ctx, in.Addr); err != nil {
		return err
	}
	for _, c := range gating {
		if err := n.runCheck(ctx, in, c); err != nil {
			return err
		}
	}
	return nil
}

// runCheck runs one app.json check with its attempts.
func (n *Actuator) runCheck(ctx context.Context, in app.Instance, c app.HealthCheck) error {
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
			if serr := sleep(ctx, time.Duration(c.Wait)*time.Second); serr != nil {
				break
			}
		}
	}
	return fmt.Errorf("%s failed after %d attempts: %v", name, attempts, err)
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

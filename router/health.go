package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"pier/app"
)

const (
	probeTimeout  = 2 * time.Second
	probeInterval = 20 * time.Millisecond
)

// newProbeClient returns the client Ready polls with: one connection per
// attempt, a short timeout, and redirects returned rather than followed.
func newProbeClient() *http.Client {
	dialer := &net.Dialer{Timeout: probeTimeout}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:              nil,
			DialContext:        dialer.DialContext,
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
		Timeout: probeTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Ready implements app.Health: it polls GET http://<addr>/ with Host
// <app>.<domain> every 20ms until an answer below 500 (a redirect or 404
// counts as ready) and then returns nil. When ctx ends first it returns an
// error for the person who pushed, naming the last failure, such as
// "hello did not answer on /: connection refused".
func (r *Router) Ready(ctx context.Context, app, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("check %s: address %q: %w", app, addr, err)
	}
	target := "http://" + addr + "/"
	host := app + r.suffix

	var last string
	wait := time.NewTimer(0)
	<-wait.C
	for {
		failure := r.probeOnce(ctx, target, host)
		if failure == "" {
			return nil
		}
		if ctx.Err() != nil {
			// This attempt was cut short by ctx; the one before says more.
			if last == "" {
				last = "no answer"
			}
			return fmt.Errorf("%s did not answer on /: %s", app, last)
		}
		last = failure
		wait.Reset(probeInterval)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer on /: %s", app, last)
		case <-wait.C:
		}
	}
}

// probeOnce makes one attempt and returns "" when the app answered below
// 500, or else what went wrong in words for the pusher.
func (r *Router) probeOnce(ctx context.Context, target, host string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "invalid address"
	}
	req.Host = host
	req.Header.Set("User-Agent", "pier")
	resp, err := r.probe.Do(req)
	if err != nil {
		return describe(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Sprintf("status %d", resp.StatusCode)
	}
	return ""
}

// describe turns a probe error into a few plain words, without Go's error
// text or the internal address.
func describe(err error) string {
	var (
		nerr  net.Error
		errno syscall.Errno
		oerr  *net.OpError
	)
	switch {
	case errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Sprintf("no answer within %s", probeTimeout)
	case errors.As(err, &errno):
		return errno.Error() // "connection refused", "connection reset by peer"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an HTTP answer"
	case errors.As(err, &oerr) && oerr.Op == "dial":
		return "could not connect"
	default:
		return "no valid HTTP answer"
	}
}

// Listening implements app.Health: it returns nil once addr accepts a TCP
// connection, trying every 20ms, or an error naming the last failure when
// ctx ends.
func (r *Router) Listening(ctx context.Context, addr string) error {
	var d net.Dialer
	last := "no answer"
	for {
		attempt, cancel := context.WithTimeout(ctx, probeTimeout)
		conn, err := d.DialContext(attempt, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return nil
		}
		if !ended(ctx) {
			last = describe(err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on the port: %s", last)
		case <-time.After(probeInterval):
		}
	}
}

// ended reports whether ctx is done or past its deadline. A dial cut short
// by the deadline can return before ctx itself is marked done, and its
// timeout must not replace the failure seen before.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// Probe implements app.Health: one attempt of an app.json check. It GETs
// c.Path on addr with Host <app>.<domain> within c.Timeout seconds (5 if 0);
// a status of 400 or more, or a body without c.Content, fails it.
func (r *Router) Probe(ctx context.Context, app, addr string, c app.HealthCheck) error {
	timeout := time.Duration(c.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return fmt.Errorf("check %s: invalid path %q", app, path)
	}
	req.Host = app + r.suffix
	req.Header.Set("User-Agent", "pier")
	resp, err := r.probe.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("GET %s: no answer within %s", path, timeout)
		}
		return fmt.Errorf("GET %s: %s", path, describe(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	if c.Content != "" && !strings.Contains(string(body), c.Content) {
		return fmt.Errorf("GET %s: the answer does not contain %q", path, c.Content)
	}
	return nil
}

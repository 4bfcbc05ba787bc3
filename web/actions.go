package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"pier/app"
)

// changeBackend is what the actions change, and the audit log they are
// recorded in.
type changeBackend interface {
	Restart(ctx context.Context, name string, out io.Writer) error
	Scale(ctx context.Context, name string, counts map[string]int) error
	Rollback(ctx context.Context, name string, version int, user string, out io.Writer) (app.Release, error)
	ChangeConfig(ctx context.Context, c app.ConfigChange) error
	StartCronJob(ctx context.Context, name, id string) error
	SleepNow(ctx context.Context, name string, deep bool) error
	Stop(ctx context.Context, name string) error
	Start(ctx context.Context, name string) error
	Destroy(ctx context.Context, name string, out io.Writer) error
	Record(ctx context.Context, e app.Event)
}

// Every action changes through changeBackend, is written to the audit log with
// the command's name (as if typed over SSH), and redirects back to the
// app's page with a message.

// act runs f for the app of the request, records it as action with detail
// on success, and leaves done (or the error) as the next page's message.
func (d *Dashboard) act(c echo.Context, action, detail, done string, f func(ctx context.Context, name string) error) error {
	name := c.Param("app")
	if err := app.ValidName(name); err != nil {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	ctx := c.Request().Context()
	s := sessionOf(c)
	if err := f(ctx, name); err != nil {
		s.setFlash(fmt.Sprintf("%s %s failed: %v", action, name, err), true)
		d.log.Info("dashboard action failed", "app", name, "action", action, "err", err)
	} else {
		d.change.Record(ctx, app.Event{Who: who, App: name, Action: action, Detail: strings.TrimSpace(name + " " + detail)})
		s.setFlash(done, false)
	}
	return c.Redirect(http.StatusSeeOther, "/apps/"+name)
}

func (d *Dashboard) restart(c echo.Context) error {
	return d.act(c, "ps:restart", "", "Restarted.", func(ctx context.Context, name string) error {
		return d.change.Restart(ctx, name, nil)
	})
}

// scale reads one field per process type: scale.web=2.
func (d *Dashboard) scale(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	counts := map[string]int{}
	var detail []string
	for k, v := range form {
		proc, ok := strings.CutPrefix(k, "scale.")
		if !ok || len(v) != 1 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil {
			return d.act(c, "ps:scale", "", "", func(context.Context, string) error {
				return fmt.Errorf("%s=%q: want a number of instances", proc, v[0])
			})
		}
		counts[proc] = n
		detail = append(detail, fmt.Sprintf("%s=%d", proc, n))
	}
	slices.Sort(detail)
	return d.act(c, "ps:scale", strings.Join(detail, " "), "Scaled to "+strings.Join(detail, " ")+".",
		func(ctx context.Context, name string) error {
			if len(counts) == 0 {
				return fmt.Errorf("no process type given")
			}
			return d.change.Scale(ctx, name, counts)
		})
}

func (d *Dashboard) rollback(c echo.Context) error {
	v := strings.TrimPrefix(c.FormValue("version"), "v")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "version: want a release number such as v3")
	}
	name := c.Param("app")
	if ok, err := d.confirmed(c, fmt.Sprintf("Roll %s back to v%d?", name, n),
		fmt.Sprintf("v%d's code and config run again as a new release, with zero downtime; the current release stays in the list to roll forward to.", n),
		fmt.Sprintf("Roll back to v%d", n), false); !ok {
		return err
	}
	return d.act(c, "releases:rollback", "v"+v, fmt.Sprintf("Rolled back to v%d.", n), func(ctx context.Context, name string) error {
		_, err := d.change.Rollback(ctx, name, n, who, nil)
		return err
	})
}

func (d *Dashboard) configSet(c echo.Context) error {
	key := strings.TrimSpace(c.FormValue("key"))
	val := c.FormValue("value")
	return d.act(c, "config:set", key+"=…", "Set "+key+": a new release is out.", func(ctx context.Context, name string) error {
		if key == "" {
			return fmt.Errorf("no config var name given")
		}
		return d.change.ChangeConfig(ctx, app.ConfigChange{App: name, Set: map[string]string{key: val}, User: who})
	})
}

func (d *Dashboard) configUnset(c echo.Context) error {
	key := c.FormValue("key")
	if ok, err := d.confirmed(c, fmt.Sprintf("Unset %s of %s?", key, c.Param("app")),
		"Its value is gone (an earlier release still has it), and the app restarts without it in a new release.",
		"Unset "+key, false); !ok {
		return err
	}
	return d.act(c, "config:unset", key, "Unset "+key+": a new release is out.", func(ctx context.Context, name string) error {
		return d.change.ChangeConfig(ctx, app.ConfigChange{App: name, Unset: []string{key}, User: who})
	})
}

func (d *Dashboard) stop(c echo.Context) error {
	name := c.Param("app")
	if ok, err := d.confirmed(c, "Stop "+name+"?",
		"Its processes stop and it answers with a page saying it is stopped until it is started again; deploys and restarts keep it stopped.",
		"Stop "+name, false); !ok {
		return err
	}
	return d.act(c, "ps:stop", "", "Stopped: Start starts it again.", func(ctx context.Context, name string) error {
		return d.change.Stop(ctx, name)
	})
}

func (d *Dashboard) start(c echo.Context) error {
	return d.act(c, "ps:start", "", "Started.", func(ctx context.Context, name string) error {
		return d.change.Start(ctx, name)
	})
}

// destroy removes the app once its name is typed again, as apps:destroy
// asks for it.
func (d *Dashboard) destroy(c echo.Context) error {
	name := c.Param("app")
	if err := app.ValidName(name); err != nil {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	if ok, err := d.confirmed(c, "Destroy "+name+"?",
		"Its releases, config, domains, logs, build cache and git repository are removed and it stops answering; its volumes are set aside on disk (storage:list --orphans). This cannot be undone.",
		"Destroy "+name, true); !ok {
		return err
	}
	s := sessionOf(c)
	if !nameTyped(c) {
		s.setFlash("The name typed was not "+name+": nothing was removed.", true)
		return c.Redirect(http.StatusSeeOther, "/apps/"+name)
	}
	ctx := c.Request().Context()
	if err := d.change.Destroy(ctx, name, io.Discard); err != nil {
		s.setFlash(fmt.Sprintf("apps:destroy %s failed: %v", name, err), true)
		return c.Redirect(http.StatusSeeOther, "/apps/"+name)
	}
	d.change.Record(ctx, app.Event{Who: who, App: name, Action: "apps:destroy", Detail: name})
	s.setFlash("Destroyed "+name+".", false)
	return c.Redirect(http.StatusSeeOther, "/")
}

// cronRun starts a cron entry now. The run goes on after the response;
// its output and exit code are recorded as for cron:run.
func (d *Dashboard) cronRun(c echo.Context) error {
	id := c.FormValue("id")
	return d.act(c, "cron:run", id, "Started "+id+": its run shows below once it ends.", func(ctx context.Context, name string) error {
		return d.change.StartCronJob(ctx, name, id)
	})
}

func (d *Dashboard) sleepNow(c echo.Context) error {
	deep := c.FormValue("stop") != ""
	detail, done := "", "Frozen: the next request wakes it."
	if deep {
		detail, done = "--stop", "Stopped: the next request starts it."
	}
	return d.act(c, "sleep:now", detail, done, func(ctx context.Context, name string) error {
		return d.change.SleepNow(ctx, name, deep)
	})
}

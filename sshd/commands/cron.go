package commands

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"pier/app"
)

// cronBackend is what the cron:* commands use: an app's cron entries and
// their runs.
type cronBackend interface {
	CronJobs(ctx context.Context, name string) ([]app.CronJob, error)
	RunCronJob(ctx context.Context, name, id string, out io.Writer) (int, error)
	CronHistory(ctx context.Context, name, id string) ([]app.CronRun, error)
	SuspendCron(ctx context.Context, name, id string) error
	ResumeCron(ctx context.Context, name, id string) error
}

// cronCommands are cron:list, run, runs, suspend and resume.
type cronCommands struct{ p cronBackend }

// cronArgs parses "APP [ID] [--format json]"; needID says whether ID is
// required (true), optional (false).
func cronArgs(args []string, needID, formats bool) (name, id string, asJSON bool, err error) {
	var withValue []string
	if formats {
		withValue = []string{"--format"}
	}
	pos, flags, err := splitFlags(args, withValue...)
	if err != nil {
		return "", "", false, err
	}
	if len(pos) < 1 || len(pos) > 2 || needID && len(pos) != 2 {
		return "", "", false, badUsage("")
	}
	if err := app.ValidName(pos[0]); err != nil {
		return "", "", false, badUsage("%v", err)
	}
	if len(pos) == 2 {
		id = pos[1]
		if !validCronID(id) {
			return "", "", false, badUsage("%.40q is not a cron entry ID; cron:list %s lists them", id, pos[0])
		}
	}
	asJSON, err = formatFlag(flags)
	return pos[0], id, asJSON, err
}

// validCronID accepts what app.json ids, Procfile keys and hashed IDs look like.
func validCronID(id string) bool {
	if id == "" || len(id) > 30 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (h cronCommands) cronList(ctx context.Context, c Call, args []string) error {
	name, id, asJSON, err := cronArgs(args, false, true)
	if err != nil {
		return err
	}
	if id != "" {
		return badUsage("")
	}
	jobs, err := h.p.CronJobs(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		type jobJSON struct {
			ID        string       `json:"id"`
			Schedule  string       `json:"schedule"`
			Timezone  string       `json:"timezone,omitempty"`
			Command   string       `json:"command"`
			Policy    string       `json:"concurrency_policy"`
			Timeout   string       `json:"timeout"`
			Catchup   bool         `json:"catchup"`
			Suspended bool         `json:"suspended"`
			Next      *time.Time   `json:"next_run,omitempty"`
			Last      *cronRunJSON `json:"last_run,omitempty"`
		}
		out := make([]jobJSON, 0, len(jobs))
		for _, j := range jobs {
			e := j.Entry
			row := jobJSON{ID: e.ID, Schedule: e.Schedule, Timezone: e.Timezone, Command: e.Command,
				Policy: policyOf(e), Timeout: timeoutOf(e).String(), Catchup: e.Catchup, Suspended: j.Suspended}
			if !j.Next.IsZero() {
				row.Next = &j.Next
			}
			if j.Last != nil {
				r := runJSON(*j.Last, false)
				row.Last = &r
			}
			out = append(out, row)
		}
		return writeJSON(c.Stdout, out)
	}
	if len(jobs) == 0 {
		fmt.Fprintf(c.Stdout, "%s has no cron entries (app.json \"cron\", or Procfile lines like `cron1: */5 * * * * cmd`)\n", name)
		return nil
	}
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "ID\tSCHEDULE\tCOMMAND\tPOLICY\tSTATE\tLAST RUN\tNEXT RUN\t")
	for _, j := range jobs {
		e := j.Entry
		sched := e.Schedule
		if e.Timezone != "" {
			sched += " (" + e.Timezone + ")"
		}
		state, next := "active", "-"
		if j.Suspended {
			state = "suspended"
		} else if !j.Next.IsZero() {
			next = j.Next.Local().Format(time.DateTime)
		}
		last := "-"
		if r := j.Last; r != nil {
			last = describeRun(*r)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", e.ID, sched, clip(e.Command, 40), policyOf(e), state, last, next)
	}
	return tw.Flush()
}

// describeRun says how a run ended and when it started: "failed (exit 3) 2m ago".
func describeRun(r app.CronRun) string {
	s := r.Status
	if r.ExitCode >= 0 && r.Status != app.RunSucceeded {
		s += fmt.Sprintf(" (exit %d)", r.ExitCode)
	}
	return s + ", " + ago(r.Started)
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format(time.DateOnly)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func policyOf(e app.CronEntry) string {
	if e.Policy == "" {
		return string(app.CronAllow)
	}
	return string(e.Policy)
}

func timeoutOf(e app.CronEntry) time.Duration {
	if e.Timeout <= 0 {
		return app.DefaultCronTimeout
	}
	return e.Timeout
}

// cronRun runs an entry now: its output streams back, its exit code is the
// command's.
func (h cronCommands) cronRun(ctx context.Context, c Call, args []string) error {
	name, id, _, err := cronArgs(args, true, false)
	if err != nil {
		return err
	}
	code, err := h.p.RunCronJob(ctx, name, id, c.Stdout)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

type cronRunJSON struct {
	ID        int64      `json:"id"`
	Entry     string     `json:"entry"`
	Trigger   string     `json:"trigger"`
	Scheduled time.Time  `json:"scheduled"`
	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended,omitempty"`
	Status    string     `json:"status"`
	ExitCode  *int       `json:"exit_code"`
	Output    *string    `json:"output,omitempty"`
}

func runJSON(r app.CronRun, withOutput bool) cronRunJSON {
	j := cronRunJSON{ID: r.ID, Entry: r.Entry, Trigger: r.Trigger, Scheduled: r.Scheduled, Started: r.Started, Status: r.Status}
	if !r.Ended.IsZero() {
		j.Ended = &r.Ended
	}
	if r.ExitCode >= 0 {
		code := r.ExitCode
		j.ExitCode = &code
	}
	if withOutput {
		j.Output = &r.Output
	}
	return j
}

// cronRuns lists recorded runs; with an entry ID, the newest run's output too.
func (h cronCommands) cronRuns(ctx context.Context, c Call, args []string) error {
	name, id, asJSON, err := cronArgs(args, false, true)
	if err != nil {
		return err
	}
	runs, err := h.p.CronHistory(ctx, name, id)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]cronRunJSON, 0, len(runs))
		for _, r := range runs {
			out = append(out, runJSON(r, true))
		}
		return writeJSON(c.Stdout, out)
	}
	if len(runs) == 0 {
		fmt.Fprintf(c.Stdout, "no cron runs of %s recorded yet\n", strings.TrimSpace(name+" "+id))
		return nil
	}
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "RUN\tENTRY\tTRIGGER\tSTARTED\tTOOK\tSTATUS\tEXIT\t")
	for _, r := range runs {
		took, exit := "-", "-"
		if !r.Ended.IsZero() {
			took = r.Ended.Sub(r.Started).Round(time.Millisecond).String()
		}
		if r.ExitCode >= 0 {
			exit = fmt.Sprint(r.ExitCode)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.ID, r.Entry, r.Trigger,
			r.Started.Local().Format(time.DateTime), took, r.Status, exit)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if id != "" {
		for _, r := range runs {
			if r.Status == app.RunSkipped {
				continue
			}
			fmt.Fprintf(c.Stdout, "\n--- output of run %d (%s):\n%s", r.ID, r.Status, r.Output)
			if r.Output != "" && !strings.HasSuffix(r.Output, "\n") {
				fmt.Fprintln(c.Stdout)
			}
			break
		}
	}
	return nil
}

func (h cronCommands) cronSuspend(ctx context.Context, c Call, args []string) error {
	return h.cronSuspension(ctx, c, args, true)
}

func (h cronCommands) cronResume(ctx context.Context, c Call, args []string) error {
	return h.cronSuspension(ctx, c, args, false)
}

func (h cronCommands) cronSuspension(ctx context.Context, c Call, args []string, suspend bool) error {
	name, id, _, err := cronArgs(args, false, false)
	if err != nil {
		return err
	}
	what := "every cron entry of " + name
	if id != "" {
		what = "cron entry " + id + " of " + name
	}
	if suspend {
		if err := h.p.SuspendCron(ctx, name, id); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "-----> Suspended %s (runs in progress go on; cron:resume resumes)\n", what)
		return nil
	}
	if err := h.p.ResumeCron(ctx, name, id); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> Resumed %s\n", what)
	return nil
}

package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"pier/app"
)

// deployBackend is what receive uses: a deploy, and the audit log to
// record the push in.
type deployBackend interface {
	Deploy(ctx context.Context, req app.DeployRequest) (app.Release, error)
	Record(ctx context.Context, e app.Event)
	App(ctx context.Context, name string) (app.App, error)
	Release(ctx context.Context, name string, version int) (app.Release, error)
}

// Sources checks out the tree of a pushed revision into a fresh
// directory, which the caller removes (sshd.Sources).
type Sources interface {
	Checkout(ctx context.Context, app, rev string) (dir string, err error)
}

// FailedDeploys keeps the output of each app's last failed deploy
// (appdirs.Texts): logs:failed shows it.
type FailedDeploys interface {
	Save(app string, output []byte) error
	Load(app string) ([]byte, time.Time, error)
}

// receiveCommands are receive, ps:rebuild and logs:failed.
type receiveCommands struct {
	p      deployBackend
	url    func(app string) string // Info.URL; nil leaves the URL out
	src    Sources                 // nil: no sources here
	failed FailedDeploys           // nil: failed deploys are not kept
}

// maxFailedOutput is how much of a failed deploy's output is kept: its
// end, where the reason is.
const maxFailedOutput = 256 << 10

// deploy runs req with its output also kept, and saved if it fails.
func (h receiveCommands) deploy(ctx context.Context, req app.DeployRequest) (app.Release, error) {
	kept := &tailBuffer{max: maxFailedOutput}
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	req.Out = io.MultiWriter(out, kept)
	rel, err := h.p.Deploy(ctx, req)
	if err != nil && h.failed != nil {
		fmt.Fprintf(kept, "pier: deploy %s: %v\n", req.App, err)
		if serr := h.failed.Save(req.App, kept.Bytes()); serr != nil {
			fmt.Fprintf(out, " !     the output of this failed deploy was not kept: %v\n", serr)
		}
	}
	return rel, err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return t.b }

// logsFailed shows the output of an app's last failed deploy.
func (h receiveCommands) logsFailed(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		if _, err := h.p.App(ctx, name); err != nil {
			return err
		}
		var b []byte
		var at time.Time
		err := fs.ErrNotExist
		if h.failed != nil {
			b, at, err = h.failed.Load(name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(c.Stdout, "no failed deploy of %s is kept on this machine\n", name)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "=== %s: the deploy that failed at %s\n", name, at.UTC().Format(time.RFC3339))
		_, err = c.Stdout.Write(b)
		return err
	})
}

// receive deploys a pushed revision. Only the pre-receive hook calls it, over
// the root-only socket: "receive APP REV DIR PUSHER", where DIR holds the
// exported tree of REV. Build progress goes to stdout (the pusher sees it);
// on success the app's URL ends it. A non-zero exit rejects the push.
func (h receiveCommands) receive(ctx context.Context, c Call, args []string) error {
	if len(args) != 4 {
		return badUsage("")
	}
	name, rev, dir, pusher := args[0], args[1], args[2], args[3]
	if err := app.ValidName(name); err != nil {
		return badUsage("%v", err)
	}
	if !isObjectID(rev) {
		return badUsage("revision %.80q is not a full git object id", rev)
	}
	if !filepath.IsAbs(dir) {
		return badUsage("source directory %.80q is not an absolute path", dir)
	}
	if pusher == "" {
		return badUsage("pusher is empty")
	}
	rel, err := h.deploy(ctx, app.DeployRequest{App: name, Dir: dir, Commit: rev, User: pusher, Out: c.Stdout})
	if err != nil {
		return about("app", name, fmt.Errorf("deploy %s: %w", name, err))
	}
	h.p.Record(ctx, app.Event{Who: pusher, App: name, Action: "git push", Detail: fmt.Sprintf("v%d %s", rel.Version, rev)})
	if h.url != nil {
		fmt.Fprintf(c.Stdout, "-----> %s\n", h.url(name))
	}
	return nil
}

// rebuild builds the source of an app's running release again, as a push
// of the same revision would, and deploys it: ps:rebuild APP.
func (h receiveCommands) rebuild(ctx context.Context, c Call, args []string) error {
	return oneApp(args, func(name string) error {
		a, err := h.p.App(ctx, name)
		if err != nil {
			return err
		}
		if a.Release == 0 {
			return fmt.Errorf("%s has not been deployed yet: push it first", name)
		}
		rel, err := h.p.Release(ctx, name, a.Release)
		if err != nil {
			return err
		}
		if rel.Commit == "" || h.src == nil {
			return fmt.Errorf("v%d of %s has no pushed source here to rebuild: push it again", rel.Version, name)
		}
		dir, err := h.src.Checkout(ctx, name, rel.Commit)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(c.Stdout, "-----> Rebuilding %s from %.12s (v%d)\n", name, rel.Commit, rel.Version)
		next, err := h.deploy(ctx, app.DeployRequest{App: name, Dir: dir, Commit: rel.Commit, User: c.User.Name, Out: c.Stdout})
		if err != nil {
			return fmt.Errorf("rebuild %s: %w", name, err)
		}
		h.p.Record(ctx, app.Event{Who: c.User.Name, App: name, Action: "ps:rebuild", Detail: fmt.Sprintf("v%d %s", next.Version, rel.Commit)})
		if h.url != nil {
			fmt.Fprintf(c.Stdout, "-----> %s\n", h.url(name))
		}
		return nil
	})
}

// isObjectID reports whether s is a full SHA-1 or SHA-256 git object id.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"pier/app"
)

// RunOnce runs o in a container of o.Image (a writable root but for
// systemPaths, tmpfs /tmp, the app's volumes, its own network namespace)
// and returns its exit code. Cancelling ctx kills it. Nothing of it is
// left afterwards, what it wrote included.
func (c *Containerd) RunOnce(ctx context.Context, o app.OneOff) (int, error) {
	ctx = c.ctx(ctx)
	ctx, done, err := c.client.WithLease(ctx)
	if err != nil {
		return -1, err
	}
	defer done(context.WithoutCancel(ctx))
	img, err := c.client.GetImage(ctx, o.Image)
	if err != nil {
		return -1, fmt.Errorf("image %s: %w", o.Image, err)
	}
	uid, gid := imageUser(ctx, img)
	mounts, err := c.volumeMounts(o.App, uid, gid, o.Volumes)
	if err != nil {
		return -1, err
	}
	id := o.App + "-run-" + randomID()[:8]
	env := o.Env
	if o.TTY != nil {
		env = append(append([]string{}, env...), "TERM="+termName(o.TTY.Term))
	}
	std := stdio{in: o.Stdin, tty: o.TTY}
	return c.runToCompletion(ctx, id, o.Out, true, std, func(nsPath, output string) []containerd.NewContainerOpts {
		p := process{
			Args: shellArgs(o.Command), Env: env, ProtectSystem: true,
			Mounts: mounts, Memory: c.memory(o.Limits), CPU: o.Limits.CPU, Netns: nsPath,
			Hostname: o.App, ShimGroup: appShimGroup, Output: output,
		}
		if o.TTY != nil {
			p.Output = "" // the terminal carries it
			p.TTY = &o.TTY.Size
		}
		return []containerd.NewContainerOpts{
			containerd.WithImage(img),
			containerd.WithSnapshotter(c.cfg.Snapshotter),
			containerd.WithNewSnapshot(id, img), // what it writes goes with it
			containerd.WithContainerLabels(map[string]string{labelKind: "oneoff", labelApp: o.App, labelNetns: nsPath}),
			containerd.WithNewSpec(append([]oci.SpecOpts{oci.WithImageConfig(img)}, c.specOpts(p)...)...),
		}
	})
}

// termName is the TERM a terminal's process gets: the client's, if it
// is a plain name.
func termName(t string) string {
	if t == "" || len(t) > 64 || strings.IndexFunc(t, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '+' || r == '_')
	}) >= 0 {
		return "xterm"
	}
	return t
}

// stdio is a one-off's standard input and terminal, if it has them.
type stdio struct {
	in  io.Reader
	tty *app.Terminal
}

// creator is the task IO for s: none (output goes to the process's own
// file), stdin alone (output as without, or to errOut too if set), or a
// terminal whose output goes to out. The end of its standard input must
// be passed on to the shim, which keeps the process's open until told:
// the caller hands end the process's CloseIO once it has one.
//
// A terminal's input has no end to pass on: the shim closes the whole
// terminal when told its input ended, and the process loses its output
// with it (ssh -tt < /dev/null sends that end at once). Its input ends
// with the process, as a terminal's does (^D is the shell's to read).
func (s stdio) creator(out, errOut io.Writer) (cio.Creator, *inputEnd) {
	if s.tty == nil && s.in == nil && errOut == nil {
		return cio.NullIO, &inputEnd{}
	}
	in := s.in
	if in == nil {
		in = eofReader{}
	}
	end := &inputEnd{}
	if s.tty != nil {
		return cio.NewCreator(cio.WithStreams(in, out, nil), cio.WithTerminal), end
	}
	r := &endReader{r: in, end: end}
	switch {
	case errOut != nil:
		return cio.NewCreator(cio.WithStreams(r, out, errOut)), end
	}
	return cio.NewCreator(cio.WithStreams(r, io.Discard, io.Discard)), end
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// inputEnd passes the end of a process's standard input on to close,
// whichever of the two comes first.
type inputEnd struct {
	mu    sync.Mutex
	ended bool
	close func()
}

// set gives the function that closes the process's standard input.
func (e *inputEnd) set(close func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ended {
		go close()
		return
	}
	e.close = close
}

func (e *inputEnd) end() {
	e.mu.Lock()
	e.ended = true
	f := e.close
	e.mu.Unlock()
	if f != nil {
		f()
	}
}

// endReader reads r and reports its end (or error) to end, once.
type endReader struct {
	r    io.Reader
	end  *inputEnd
	once sync.Once
}

func (r *endReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil {
		r.once.Do(r.end.end)
	}
	return n, err
}

// resize passes a terminal's window changes on to p until done.
func (s stdio) resize(ctx context.Context, p interface {
	Resize(ctx context.Context, w, h uint32) error
}, done <-chan struct{}) {
	if s.tty == nil || s.tty.Resize == nil {
		return
	}
	for {
		select {
		case <-done:
			return
		case w, ok := <-s.tty.Resize:
			if !ok {
				return
			}
			if w.Width > 0 && w.Height > 0 && w.Width <= 10000 && w.Height <= 10000 {
				_ = p.Resize(ctx, uint32(w.Width), uint32(w.Height))
			}
		}
	}
}

// runToCompletion creates container id with the options opts returns for its
// network namespace and output file (process.Output), runs its task with
// the output streamed to out, and removes the task, network and container
// (and its snapshot if cleanSnapshot). The process writes its output into
// the file itself: through the shim, FIFOs lost short processes' output,
// and so, rarely and under load, did a shim-written file.
func (c *Containerd) runToCompletion(ctx context.Context, id string, out io.Writer, cleanSnapshot bool, std stdio,
	opts func(nsPath, output string) []containerd.NewContainerOpts) (int, error) {
	// The process writes its output file as whatever user it runs as,
	// without a capability to override permissions: the file is open to
	// all, in a directory only root can enter.
	outDir, err := c.mkTemp("pier-run-")
	if err != nil {
		return -1, err
	}
	defer os.RemoveAll(outDir)
	logFile, err := os.OpenFile(filepath.Join(outDir, "output"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return -1, fmt.Errorf("output file: %w", err)
	}
	err = logFile.Chmod(0o666)
	if cerr := logFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return -1, fmt.Errorf("output file: %w", err)
	}

	nsPath, err := c.net.create()
	if err != nil {
		return -1, err
	}
	cleanup := context.WithoutCancel(ctx)
	defer c.net.destroy(cleanup, id, nsPath)

	// The container and its task are created whatever ctx does meanwhile,
	// so that a cancel in the middle of a create (a cron run killed as its
	// app is destroyed) cannot leave one behind that nothing deletes.
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	container, err := c.client.NewContainer(cleanup, id, opts(nsPath, logFile.Name())...)
	if err != nil {
		return -1, fmt.Errorf("create container: %w", err)
	}
	if cleanSnapshot {
		defer container.Delete(cleanup, containerd.WithSnapshotCleanup)
	} else {
		defer container.Delete(cleanup)
	}
	creator, end := std.creator(out, nil)
	task, err := container.NewTask(cleanup, creator)
	if err != nil {
		return -1, fmt.Errorf("create task: %w", err)
	}
	defer task.Delete(cleanup, containerd.WithProcessKill)
	if _, err := c.net.attach(ctx, id, nsPath); err != nil {
		return -1, err
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return -1, err
	}
	if err := task.Start(ctx); err != nil {
		return -1, fmt.Errorf("start: %w", err)
	}
	// Once started: closing a terminal's input before would stop it.
	end.set(func() { _ = task.CloseIO(cleanup, containerd.WithStdinCloser) })
	stop := make(chan struct{})
	tailed := make(chan error, 1)
	go func() { tailed <- tail(logFile.Name(), out, stop) }()
	go std.resize(cleanup, task, stop)

	var status containerd.ExitStatus
	select {
	case status = <-exited:
	case <-ctx.Done():
		_ = task.Kill(cleanup, 9, containerd.WithKillAll)
		select {
		case status = <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	// Children the process left behind may still write: deleting the task
	// kills them, and the rest is read once the file stops growing.
	_, _ = task.Delete(cleanup, containerd.WithProcessKill)
	settle(logFile.Name(), 20*time.Millisecond, 300*time.Millisecond)
	close(stop)
	if err := <-tailed; err != nil {
		return -1, err
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if reason, ok := c.evicted.LoadAndDelete(id); ok {
		fmt.Fprintln(out, reason)
	}
	return int(status.ExitCode()), status.Error()
}

// settle returns once path has the same size twice, step apart, or after
// max.
func settle(path string, step, max time.Duration) {
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	last := size()
	for waited := time.Duration(0); waited < max; waited += step {
		time.Sleep(step)
		cur := size()
		if cur == last {
			return
		}
		last = cur
	}
}

// tail copies path to w as it grows until stop is closed, then copies the rest.
func tail(path string, w io.Writer, stop <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			select {
			case <-stop:
				_, err := io.CopyBuffer(w, f, buf)
				return err
			case <-time.After(30 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

// Exec runs o.Command in the running instance id, as its own process runs
// (user, working directory, environment, limits), with o's standard input
// and terminal, and returns its exit code once it ends: `enter`.
// Cancelling ctx kills it.
func (c *Containerd) Exec(ctx context.Context, id string, o app.OneOff) (int, error) {
	ctx = c.ctx(ctx)
	container, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return -1, fmt.Errorf("instance %s: %w", id, err)
	}
	spec, err := container.Spec(ctx)
	if err != nil {
		return -1, err
	}
	task, err := container.Task(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("instance %s is not running: %w", id, err)
	}
	p := *spec.Process
	p.Args = shellArgs(o.Command)
	p.Env = append(append([]string{}, p.Env...), o.Env...)
	p.Terminal = o.TTY != nil
	p.ConsoleSize = nil
	if o.TTY != nil {
		p.Env = append(p.Env, "TERM="+termName(o.TTY.Term))
		if s := o.TTY.Size; s.Width > 0 && s.Height > 0 && s.Width <= 10000 && s.Height <= 10000 {
			p.ConsoleSize = &specs.Box{Width: uint(s.Width), Height: uint(s.Height)}
		}
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	std := stdio{in: o.Stdin, tty: o.TTY}
	creator, end := std.creator(out, out)
	cleanup := context.WithoutCancel(ctx)
	proc, err := task.Exec(ctx, "enter-"+randomID()[:8], &p, creator)
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer proc.Delete(cleanup, containerd.WithProcessKill)
	exited, err := proc.Wait(ctx)
	if err != nil {
		return -1, err
	}
	if err := proc.Start(ctx); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	end.set(func() { _ = proc.CloseIO(cleanup, containerd.WithStdinCloser) })
	done := make(chan struct{})
	defer close(done)
	go std.resize(cleanup, proc, done)
	var status containerd.ExitStatus
	select {
	case status = <-exited:
	case <-ctx.Done():
		_ = proc.Kill(cleanup, 9)
		select {
		case status = <-exited:
		case <-time.After(10 * time.Second):
		}
		return -1, ctx.Err()
	}
	// The output is all copied once the process is deleted.
	if _, err := proc.Delete(cleanup); err != nil && !errdefs.IsNotFound(err) {
		c.log.Warn("delete exec process", "id", id, "err", err)
	}
	return int(status.ExitCode()), status.Error()
}

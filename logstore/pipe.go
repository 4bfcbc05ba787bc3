package logstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"pier/app"
)

// An instance's raw output goes through a named pipe (OpenRaw), not a
// file: the shim copies the process's stdout and stderr into it, and the
// collector reads it. A file would let the shim meet a full disk, and the
// shim's copy stops for good at the first failed write (containerd
// pkg/process/io.go): the process then blocks once its stdout pipe's 64 KiB
// fill, and keeps serving no longer. Through a pipe the shim never writes to
// the disk; pier does, and drops what it cannot write, saying so. An app
// that prints faster than pier collects waits for it, like Docker's
// blocking log mode; so does one printing more than the pipe holds (1 MiB)
// while pier is down. The pipe's content outlives a restart of pier: the
// shim holds both of its ends.
//
// Instances started before pipes write regular files, which the collector
// still reads by offset.

// pipeSize is what a raw pipe holds (F_SETPIPE_SZ; the kernel's default
// pipe-max-size).
const pipeSize = 1 << 20

// pipeEnd is pier's read end of an instance's raw pipe, non-blocking.
type pipeEnd struct{ fd int }

func openPipe(path string) (*pipeEnd, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	const setPipeSize = 1031                                               // F_SETPIPE_SZ
	syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), setPipeSize, pipeSize) // best effort
	return &pipeEnd{fd: fd}, nil
}

func (p *pipeEnd) close() {
	if p != nil {
		syscall.Close(p.fd)
	}
}

var chunks = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// read appends to data what the pipe holds, up to limit bytes. It returns
// at once when the pipe is empty or has no writer left.
func (p *pipeEnd) read(data []byte, limit int) ([]byte, error) {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	chunk := *bp
	for got := 0; got < limit; {
		n, err := syscall.Read(p.fd, chunk[:min(len(chunk), limit-got)])
		switch {
		case n > 0:
			data = append(data, chunk[:n]...)
			got += n
		case err == syscall.EINTR:
		case err == nil || err == syscall.EAGAIN:
			return data, nil // no writer left, or nothing more for now
		default:
			return data, err
		}
	}
	return data, nil
}

// OpenRaw makes the named pipe an instance's output goes through, at
// RawPath, and opens pier's end of it; give the path to the shim (as a
// file:// log URI) after this returns, since the shim's open waits for a
// reader. The collector reads it from then on, as it does after a restart.
func (c *Store) OpenRaw(appName, process, id string) (string, error) {
	if app.ValidName(appName) != nil || process == "" || id == "" || strings.ContainsAny(process+id, "/.") {
		return "", fmt.Errorf("raw log of %q %q %q: not an instance", appName, process, id)
	}
	path := c.RawPath(appName, process, id)
	a := c.app(appName)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.load(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil && err != syscall.EEXIST {
		return "", &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		return "", fmt.Errorf("raw log %s: not a named pipe", path)
	}
	name := filepath.Base(path)
	f := a.files[name]
	if f == nil {
		inst, _ := instanceName(name)
		f = &rawFile{name: name, inst: inst}
		a.files[name] = f
	}
	if f.pipe == nil {
		p, err := openPipe(path)
		if err != nil {
			return "", err
		}
		f.pipe = p
	}
	return path, nil
}

// takePipe is take for a pipe: what it holds is read, up to maxRead, and
// cut into lines. Output dropped because app.log could not be written
// comes back as a line saying how much.
func (a *appLog) takePipe(f *rawFile, now time.Time, ts string, final bool, batch *[]byte, lines *[]published) (more bool, err error) {
	f.got = 0
	if f.dropped > 0 {
		data := f.pending
		if len(data) > 0 {
			data = append(data, '\n')
		}
		data = fmt.Appendf(data, "pier: %d KiB of output dropped: %s\n", (f.dropped+1023)>>10, f.dropWhy)
		a.cut(f, data, now, ts, true, batch, lines)
		f.dropped, f.dropWhy = 0, ""
	}
	start := len(f.pending)
	data, err := f.pipe.read(f.pending, maxRead)
	if err != nil {
		return false, err
	}
	f.got = len(data) - start
	more = f.got >= maxRead
	if len(data) > 0 {
		a.cut(f, data, now, ts, final && !more, batch, lines)
	}
	return more, nil
}

// errDiskLow is a write to app.log refused to keep the disk's last space
// for pier's database.
type errDiskLow struct{ free, reserve int64 }

func (e errDiskLow) Error() string {
	return fmt.Sprintf("the disk is nearly full (%d MiB free; pier keeps %d MiB for its database)", e.free>>20, e.reserve>>20)
}

// room checks that n more bytes leave the reserve free on the logs' disk.
func (c *Store) room(n int) error {
	if c.reserve <= 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.dir, &st); err != nil {
		return nil // cannot tell: the write says
	}
	free := int64(st.Bavail) * st.Bsize
	if free-int64(n) < c.reserve {
		return errDiskLow{free, c.reserve}
	}
	return nil
}

// SetReserve makes the collector leave n bytes free on the logs' disk:
// output that would take it below is dropped, and a line says so once
// there is room (0: no reserve). Call it before Run.
func (c *Store) SetReserve(n int64) { c.reserve = n }

// closePipes closes pier's ends of the app's raw pipes.
func (a *appLog) closePipes() {
	for _, f := range a.files {
		f.pipe.close()
		f.pipe = nil
	}
}

// isPipe reports whether a raw directory entry is a named pipe.
func isPipe(e fs.DirEntry) bool { return e.Type() == fs.ModeNamedPipe }

// ForgetOthers forgets (see Forget) the raw output of every instance whose
// ID live does not report: the instances a crash or a reboot took without
// their stop. Call it on start, before instances start.
func (c *Store) ForgetOthers(live func(id string) bool) error {
	apps, err := os.ReadDir(c.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, a := range apps {
		if !a.IsDir() || app.ValidName(a.Name()) != nil {
			continue
		}
		raw, err := os.ReadDir(filepath.Join(c.dir, a.Name(), "raw"))
		if err != nil {
			continue
		}
		for _, e := range raw {
			base, ok := strings.CutSuffix(e.Name(), ".log")
			process, id, ok2 := strings.Cut(base, ".")
			if ok && ok2 && !live(id) {
				c.Forget(a.Name(), process, id)
			}
		}
	}
	return nil
}

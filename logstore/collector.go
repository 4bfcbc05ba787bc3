// Package logstore keeps apps' process output on disk: it turns the raw
// files that containerd's shims append instances' stdout and stderr to into
// each app's timestamped log, rotates it, and serves its last lines and new
// ones to readers. It works on plain files and knows nothing of containerd.
package logstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"pier/app"
)

// App logs on disk, under <DataDir>/logs/<app>/:
//
//	raw/<process>.<id>.log  what the shim appends: the instance's stdout+stderr
//	offsets.json            how far each raw file is collected, and app.log's size then
//	app.log, app.log.1      collected lines: "<time> <process>.<suffix> <text>"
//
// The shim opens raw files with O_APPEND (containerd pkg/process/io.go, "file"
// scheme), so it never waits for pier and keeps appending at the end after
// the collector truncates a file.
const (
	pollInterval = 200 * time.Millisecond
	// partialWait is how long an unterminated line waits for its newline.
	partialWait = time.Second
	// maxLineLen caps a line's text; longer output is split.
	maxLineLen = 16 << 10
	// rawShrink is the size past which a collected raw file is emptied.
	rawShrink = 1 << 20
	// rawForce is the size at which a raw file is truncated even while its
	// instance writes (see shrink).
	rawForce = 1 << 30
	// maxRead bounds what one collection reads from one raw file.
	maxRead = 1 << 20
	// rawBacklog bounds the output of a raw file not collected yet: an
	// app that prints faster than maxRead a poll would otherwise fill the
	// disk. Past it the backlog is dropped, with a line that says so, and
	// shrink gives its space back.
	rawBacklog = 64 << 20
	// stampLayout is RFC 3339 in UTC with milliseconds, fixed width.
	stampLayout = "2006-01-02T15:04:05.000Z"
)

// Store turns the raw output files of instances into each app's
// timestamped log, and fans new lines out to followers. All work on one app
// happens under that app's lock, so Run, Tail, Logs, Forget, RenameFiles and
// RemoveFiles may be called concurrently.
type Store struct {
	dir      string // <DataDir>/logs
	maxLog   int64  // app.log is rotated before it would pass this
	rawMax   int64  // collected raw files past this are emptied
	backlog  int64  // uncollected output of a raw file past this is dropped
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	reserve  int64       // free space app.log writes leave on the disk
	noPunch  atomic.Bool // the file system cannot punch holes

	mu   sync.Mutex
	apps map[string]*appLog
}

var (
	_ app.LogSource = (*Store)(nil)
	_ app.Files     = (*Store)(nil)
)

// New returns a Store of the apps' logs under dir (<DataDir>/logs). maxLog
// caps an app's collected log, app.log: it is renamed to app.log.1 before it
// would pass maxLog.
func New(dir string, maxLog int64, log *slog.Logger) *Store {
	return &Store{
		dir: dir, maxLog: maxLog, rawMax: rawShrink, backlog: rawBacklog, interval: pollInterval,
		now: time.Now, log: log, apps: map[string]*appLog{},
	}
}

// appLog is the collector's state for one app. Fields below mu are guarded by it.
type appLog struct {
	c    *Store
	name string
	dir  string

	mu        sync.Mutex
	loaded    bool
	size      int64               // app.log's size: everything written and recorded
	files     map[string]*rawFile // by file name in raw/
	saved     []byte              // offsets.json as last written
	followers map[*follower]struct{}
	warned    time.Time
	// gone says the app's logs were removed or moved (RemoveFiles,
	// RenameFiles): a poll that took this state before then does nothing,
	// rather than make the directory again under the old name.
	gone bool
}

// rawFile is one instance's raw output file.
type rawFile struct {
	name    string // "web.hello-3f2a91c0.log"
	inst    string // "web.3f2a91c0"
	off     int64  // collected up to here: the end of the last line written to app.log
	pending []byte // bytes after off that do not end a line yet
	since   time.Time
	seen    int64     // file size at the last look
	changed time.Time // when seen last changed
	punched int64     // holes punched up to here

	// A named pipe (see pipe.go) has no offsets: what is read is gone.
	pipe    *pipeEnd // pier's read end; nil for a regular file
	got     int      // bytes read from the pipe by the last take
	dropped int64    // bytes read but not written to app.log, not yet said
	dropWhy string   // why they were dropped
}

// offsets is offsets.json.
type offsets struct {
	LogSize int64            `json:"log_size"`
	Raw     map[string]int64 `json:"raw"`
}

// instanceName parses a raw file name "<process>.<id>.log" into the instance
// name "<process>.<suffix>", where suffix is what follows the ID's last dash.
func instanceName(file string) (inst string, ok bool) {
	base, ok := strings.CutSuffix(file, ".log")
	if !ok {
		return "", false
	}
	proc, id, ok := strings.Cut(base, ".")
	if !ok || proc == "" || id == "" || strings.Contains(id, ".") {
		return "", false
	}
	return proc + "." + idSuffix(id), true
}

func idSuffix(id string) string { return id[strings.LastIndexByte(id, '-')+1:] }

// Run turns instances' raw output into each app's log until ctx ends; the
// daemon runs it once. Every 200 ms it reads what the shims appended to the
// raw files (RawPath), and appends each complete line to <dir>/<app>/app.log
// as
//
//	2026-11-21T20:40:01.123Z web.3f2a91c0 <text>
//
// The time is when pier read the line: within the poll interval while pier
// runs; lines written while pier was down get the time it came back. Lines
// of different instances read in the same poll are grouped by instance.
// A line without its newline is held for up to 1 s; lines are cut at 16 KiB.
//
// The shims write whether pier runs or not, so apps never wait for it. How
// far each raw file is collected is recorded in offsets.json, so a restart
// neither loses nor repeats lines. app.log is renamed to app.log.1 before it
// would pass New's maxLog; collected raw files are emptied past 1 MiB. An
// instance printing faster than pier collects loses output past 64 MiB of
// backlog (a line says so) rather than filling the disk.
func (c *Store) Run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.pollAll()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Store) pollAll() {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		c.log.Warn("read log directory", "dir", c.dir, "err", err)
		return
	}
	for _, e := range ents {
		if !e.IsDir() || app.ValidName(e.Name()) != nil {
			continue
		}
		a := c.app(e.Name())
		a.mu.Lock()
		a.poll()
		a.mu.Unlock()
	}
}

func (c *Store) app(name string) *appLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[name]
	if a == nil {
		a = &appLog{c: c, name: name, dir: filepath.Join(c.dir, name),
			files: map[string]*rawFile{}, followers: map[*follower]struct{}{}}
		c.apps[name] = a
	}
	return a
}

// RawPath is the file the shim appends an instance's stdout and stderr to,
// where Run reads it. The name carries the process type.
func (c *Store) RawPath(app, process, id string) string {
	return filepath.Join(c.dir, app, "raw", process+"."+id+".log")
}

// SetRawLimit changes the size past which collected raw files are emptied
// (1 MiB), so that tests see a truncation with little output. Call it
// before Run.
func (c *Store) SetRawLimit(n int64) { c.rawMax = n }

// Forget collects an instance's raw output one last time, partial line
// included, then deletes the raw file. Call it once the instance's process
// is gone. Unknown or malformed names do nothing. If the output cannot be
// written to app.log the raw file stays and is collected later.
func (c *Store) Forget(appName, process, id string) {
	if app.ValidName(appName) != nil || process == "" || id == "" ||
		strings.ContainsAny(process+id, "/.") {
		return
	}
	name := process + "." + id + ".log"
	a := c.app(appName)
	a.mu.Lock()
	defer a.mu.Unlock()
	fi, err := os.Lstat(a.rawPath(name))
	if errors.Is(err, os.ErrNotExist) {
		// Collected already (a second stop of the instance), or the app's
		// logs moved or went with it (apps:rename, apps:destroy): nothing
		// to collect, and no directory to make again.
		if f := a.files[name]; f != nil {
			f.pipe.close()
		}
		delete(a.files, name)
		return
	}
	if err := a.load(); err != nil {
		c.log.Warn("load log offsets", "app", appName, "err", err)
		return
	}
	f := a.files[name]
	if f == nil {
		inst, _ := instanceName(name)
		f = &rawFile{name: name, inst: inst}
		a.files[name] = f
	}
	if f.pipe == nil && err == nil && fi.Mode().Type() == fs.ModeNamedPipe {
		if f.pipe, err = openPipe(a.rawPath(name)); err != nil {
			c.log.Warn("collect output of removed instance", "app", appName, "id", id, "err", err)
			return
		}
	}
	for {
		more, err := a.collect([]*rawFile{f}, true)
		if err != nil {
			c.log.Warn("collect output of removed instance", "app", appName, "id", id, "err", err)
			return
		}
		if !more {
			break
		}
	}
	if err := os.Remove(a.rawPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("remove raw log", "app", appName, "id", id, "err", err)
		return
	}
	f.pipe.close()
	delete(a.files, name)
	if err := a.save(); err != nil {
		a.warn("save log offsets", err)
	}
}

func (a *appLog) rawPath(name string) string { return filepath.Join(a.dir, "raw", name) }
func (a *appLog) logPath() string            { return filepath.Join(a.dir, "app.log") }
func (a *appLog) offsetsPath() string        { return filepath.Join(a.dir, "offsets.json") }

// warn logs a failure at most once a minute per app: a full disk must not
// flood the daemon's log five times a second.
func (a *appLog) warn(msg string, err error) {
	if now := time.Now(); now.Sub(a.warned) > time.Minute {
		a.warned = now
		a.c.log.Warn(msg, "app", a.name, "err", err)
	}
}

// load reads offsets.json once. If app.log is longer than recorded, pier
// stopped between writing lines and recording their offsets: the unrecorded
// tail is cut, and collected again from the raw files, so nothing is doubled.
// If it is shorter, it was rotated after the last record.
func (a *appLog) load() error {
	if a.loaded {
		return nil
	}
	var st offsets
	b, err := os.ReadFile(a.offsetsPath())
	recorded := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if recorded {
		if err := json.Unmarshal(b, &st); err != nil {
			a.c.log.Warn("log offsets unreadable: collecting raw files from the start", "app", a.name, "err", err)
			recorded = false
		}
	}
	if fi, err := os.Stat(a.logPath()); err == nil {
		a.size = fi.Size()
	}
	if recorded && a.size > st.LogSize {
		if err := os.Truncate(a.logPath(), st.LogSize); err != nil {
			return err
		}
		a.size = st.LogSize
	}
	for name, off := range st.Raw {
		if inst, ok := instanceName(name); ok {
			a.files[name] = &rawFile{name: name, inst: inst, off: off}
		}
	}
	a.saved = b
	a.loaded = true
	return nil
}

// save writes offsets.json if it changed, atomically.
func (a *appLog) save() error {
	st := offsets{LogSize: a.size, Raw: make(map[string]int64, len(a.files))}
	for name, f := range a.files {
		if f.pipe == nil {
			st.Raw[name] = f.off
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if bytes.Equal(b, a.saved) {
		return nil
	}
	if err := os.MkdirAll(a.dir, 0o750); err != nil {
		return err
	}
	// Written up to 5 times a second per busy app, so without the fsync
	// that renameio does: on an SD card that would be a flash write each
	// time, and an offsets file lost in a power cut only makes the next
	// start collect some lines again. The rename keeps it whole.
	tmp := a.offsetsPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	if err := os.Rename(tmp, a.offsetsPath()); err != nil {
		return err
	}
	a.saved = b
	return nil
}

// scan matches a.files to the raw directory: new files start at offset 0,
// vanished ones are dropped.
func (a *appLog) scan() error {
	ents, err := os.ReadDir(filepath.Join(a.dir, "raw"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	seen := make(map[string]bool, len(ents))
	for _, e := range ents {
		inst, ok := instanceName(e.Name())
		if !ok || !e.Type().IsRegular() && !isPipe(e) {
			continue
		}
		seen[e.Name()] = true
		f := a.files[e.Name()]
		if f == nil {
			f = &rawFile{name: e.Name(), inst: inst}
			a.files[e.Name()] = f
		}
		if isPipe(e) && f.pipe == nil {
			p, err := openPipe(a.rawPath(e.Name()))
			if err != nil {
				a.warn("open raw pipe", err)
				continue
			}
			f.off, f.pipe = 0, p
		}
	}
	for name, f := range a.files {
		if !seen[name] {
			f.pipe.close()
			delete(a.files, name)
		}
	}
	return nil
}

// poll collects every raw file of the app once and shrinks the collected ones.
func (a *appLog) poll() {
	if a.gone {
		return
	}
	if _, err := os.Stat(a.dir); errors.Is(err, os.ErrNotExist) {
		return // listed by a poll, then removed or moved: nothing to collect
	}
	if err := a.load(); err != nil {
		a.warn("load log offsets", err)
		return
	}
	if err := a.scan(); err != nil {
		a.warn("list raw logs", err)
		return
	}
	files := make([]*rawFile, 0, len(a.files))
	for _, f := range a.files {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	if _, err := a.collect(files, false); err != nil {
		a.warn("collect logs", err)
		return
	}
	now := a.c.now()
	for _, f := range files {
		a.shrink(f, now)
	}
	if err := a.save(); err != nil {
		a.warn("save log offsets", err)
	}
}

// collect reads new output of files, appends its complete lines to app.log
// in one write, records the new offsets and hands the lines to followers.
// final also flushes a partial line once its file is read to the end. more
// reports that a file has unread bytes left (maxRead was reached). On a
// failed write nothing is recorded: the same bytes are read again next time.
// A file that cannot be read is skipped and its error returned, after the
// others are collected.
func (a *appLog) collect(files []*rawFile, final bool) (more bool, err error) {
	now := a.c.now()
	ts := now.UTC().Format(stampLayout)
	var batch []byte
	var lines []published
	prev := make([]rawFile, len(files))
	for i, f := range files {
		prev[i] = *f
		m, terr := a.take(f, now, ts, final, &batch, &lines)
		if terr != nil && err == nil {
			err = fmt.Errorf("read raw log %s: %w", f.name, terr)
		}
		more = more || m
	}
	if len(batch) > 0 {
		if err := a.write(files, prev, batch); err != nil {
			// A regular file is read again next time; what a pipe gave is
			// gone, and counted to be said.
			for i, f := range files {
				got := f.got
				*f = prev[i]
				if f.pipe != nil && got > 0 {
					f.dropped += int64(got)
					f.dropWhy = err.Error()
				}
			}
			return false, err
		}
	}
	if err := a.save(); err != nil {
		// The lines are in app.log; a restart before the next successful
		// save cuts them and collects them again.
		a.warn("save log offsets", err)
	}
	for _, l := range lines {
		a.publish(string(batch[l.start:l.end]), l.process)
	}
	return more, err
}

// published marks one line of a batch for the followers.
type published struct {
	start, end int
	process    string
}

// write appends batch to app.log, rotating it first if the batch would take
// it past the cap. The rotation is recorded with the offsets of before the
// batch (prev), so a crash between the two leaves nothing collected twice.
func (a *appLog) write(files []*rawFile, prev []rawFile, batch []byte) error {
	if err := a.c.room(len(batch)); err != nil {
		return fmt.Errorf("write app.log: %w", err)
	}
	if a.size > 0 && a.size+int64(len(batch)) > a.c.maxLog {
		if err := os.Rename(a.logPath(), filepath.Join(a.dir, "app.log.1")); err != nil {
			return fmt.Errorf("rotate app.log: %w", err)
		}
		a.size = 0
		cur := make([]rawFile, len(files))
		for i, f := range files {
			cur[i] = *f
			f.off = prev[i].off
		}
		err := a.save()
		for i, f := range files {
			*f = cur[i]
		}
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(a.dir, 0o750); err != nil {
		return err
	}
	out, err := os.OpenFile(a.logPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	_, err = out.Write(batch)
	if err != nil {
		out.Truncate(a.size) // drop a partial write; it is collected again
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write app.log: %w", err)
	}
	a.size += int64(len(batch))
	return nil
}

// take reads what f gained since the last look and appends its lines,
// formatted, to batch.
func (a *appLog) take(f *rawFile, now time.Time, ts string, final bool, batch *[]byte, lines *[]published) (more bool, err error) {
	if f.pipe != nil {
		return a.takePipe(f, now, ts, final, batch, lines)
	}
	path := a.rawPath(f.name)
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if final && len(f.pending) > 0 {
			a.cut(f, f.pending, now, ts, true, batch, lines)
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	size := fi.Size()
	pos := f.off + int64(len(f.pending))
	if size < pos {
		// Truncated by someone else, or by pier just before it stopped.
		f.off, f.pending, f.punched = 0, nil, 0
		pos = 0
	}
	if size != f.seen {
		f.seen, f.changed = size, now
	}
	if size-pos > a.c.backlog {
		// Drop the backlog: what is pending ends, a line says what went.
		data := f.pending
		if len(data) > 0 {
			data = append(data, '\n')
		}
		data = fmt.Appendf(data, "pier: %d MiB of output dropped: the app printed faster than pier collects (at most %d MiB wait)\n",
			(size-pos)>>20, a.c.backlog>>20)
		a.cut(f, data, now, ts, true, batch, lines)
		f.off, f.pending = size, nil
		return false, nil
	}
	data := f.pending
	if size > pos {
		n := min(size-pos, maxRead)
		buf := make([]byte, len(f.pending)+int(n))
		copy(buf, f.pending)
		r, err := os.Open(path)
		if err != nil {
			return false, err
		}
		m, err := r.ReadAt(buf[len(f.pending):], pos)
		r.Close()
		if err != nil && err != io.EOF {
			return false, err
		}
		data = buf[:len(f.pending)+m]
		more = pos+int64(m) < size
	}
	if len(data) > 0 {
		a.cut(f, data, now, ts, final && !more, batch, lines)
	}
	return more, nil
}

// cut splits data (f's pending bytes followed by new ones) into lines of at
// most maxLineLen and appends them to batch. A trailing partial line stays
// pending until its newline comes, partialWait passes, or flush is set.
func (a *appLog) cut(f *rawFile, data []byte, now time.Time, ts string, flush bool, batch *[]byte, lines *[]published) {
	emit := func(text []byte) {
		text = bytes.TrimSuffix(text, []byte("\r"))
		start := len(*batch)
		b := append(*batch, ts...)
		b = append(b, ' ')
		b = append(b, f.inst...)
		b = append(b, ' ')
		b = append(b, text...)
		*batch = append(b, '\n')
		if len(a.followers) > 0 {
			*lines = append(*lines, published{start, len(*batch), processOf(f.inst)})
		}
	}
	i := 0
	for i < len(data) {
		rest := data[i:]
		j := bytes.IndexByte(rest, '\n')
		switch {
		case j >= 0 && j <= maxLineLen:
			emit(rest[:j])
			i += j + 1
		case j > maxLineLen || j < 0 && len(rest) > maxLineLen:
			emit(rest[:maxLineLen])
			i += maxLineLen
		default:
			goto partial
		}
	}
partial:
	if i < len(data) {
		if i > 0 || len(f.pending) == 0 {
			f.since = now
		}
		if flush || now.Sub(f.since) >= partialWait {
			emit(data[i:])
			i = len(data)
		}
	}
	f.off += int64(i)
	f.pending = bytes.Clone(data[i:])
}

// shrink gives back the disk space of a fully collected raw file past
// rawMax. A truncation cannot be made conditional on the file's size, so a
// line written between the size check and the truncation would be lost:
// files are truncated only when quiet (no output between two polls), which
// makes that window microseconds after at least one poll interval of silence.
// While the instance keeps writing, the collected part is deallocated
// instead (FALLOC_FL_PUNCH_HOLE keeps the size, so appends and offsets are
// unaffected). Without hole punching, or past rawForce, the file is
// truncated anyway, like logrotate's copytruncate.
func (a *appLog) shrink(f *rawFile, now time.Time) {
	if f.pipe != nil || len(f.pending) > 0 || f.off != f.seen || f.off <= a.c.rawMax {
		return
	}
	quiet := now.Sub(f.changed) >= a.c.interval
	if !quiet && f.off < rawForce && !a.c.noPunch.Load() {
		end := f.off &^ 4095
		if end-f.punched < a.c.rawMax {
			return
		}
		err := punch(a.rawPath(f.name), f.punched, end-f.punched)
		switch {
		case err == nil:
			f.punched = end
			return
		case errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS):
			a.c.noPunch.Store(true)
			a.c.log.Info("file system cannot punch holes: raw logs are truncated while instances write", "dir", a.c.dir)
		default:
			a.warn("punch raw log "+f.name, err)
			return
		}
	}
	w, err := os.OpenFile(a.rawPath(f.name), os.O_WRONLY, 0)
	if err != nil {
		a.warn("truncate raw log "+f.name, err)
		return
	}
	defer w.Close()
	fi, err := w.Stat()
	if err != nil || fi.Size() != f.off {
		return // it grew: collect first
	}
	if err := w.Truncate(0); err != nil {
		a.warn("truncate raw log "+f.name, err)
		return
	}
	f.off, f.seen, f.punched = 0, 0, 0
}

// punch deallocates [off, off+n) of the file at path, keeping its size.
func punch(path string, off, n int64) error {
	const (
		keepSize  = 0x1 // FALLOC_FL_KEEP_SIZE
		punchHole = 0x2 // FALLOC_FL_PUNCH_HOLE
	)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return syscall.Fallocate(int(f.Fd()), keepSize|punchHole, off, n)
}

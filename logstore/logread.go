package logstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pier/app"
)

// processOf is the process type of an instance name: "web" of "web.3f2a91c0".
func processOf(inst string) string {
	p, _, _ := strings.Cut(inst, ".")
	return p
}

// splitLine splits an app.log line "<time> <instance> <text>".
func splitLine(line []byte) (inst, text []byte, ok bool) {
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return nil, nil, false
	}
	inst, text, ok = bytes.Cut(rest, []byte(" "))
	return inst, text, ok
}

// logFile is an open app.log or app.log.1, read up to size.
type logFile struct {
	f    *os.File
	size int64
}

// openLogs opens app.log.1 and app.log, oldest first, skipping missing ones.
// app.log is read up to what the collector recorded. a.mu must be held; the
// files stay readable after a rotation.
func (a *appLog) openLogs() ([]logFile, error) {
	var files []logFile
	for _, name := range []string{"app.log.1", "app.log"} {
		f, err := os.Open(filepath.Join(a.dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			closeLogs(files)
			return nil, err
		}
		size := a.size
		if name != "app.log" {
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				closeLogs(files)
				return nil, err
			}
			size = fi.Size()
		}
		files = append(files, logFile{f, size})
	}
	return files, nil
}

func closeLogs(files []logFile) {
	for _, lf := range files {
		lf.f.Close()
	}
}

// lastLines calls emit, oldest first, for the last n lines of files (oldest
// file first) that keep accepts. It reads backwards in blocks and holds only
// the positions of the lines it keeps, not the files.
func lastLines(files []logFile, n int, keep func(line []byte) bool, emit func(line []byte) error) error {
	type span struct {
		file int
		off  int64
		len  int
	}
	var spans []span // newest first
	for i := len(files) - 1; i >= 0 && len(spans) < n; i-- {
		err := scanBack(files[i].f, files[i].size, func(line []byte, off int64) bool {
			if keep(line) {
				spans = append(spans, span{i, off, len(line)})
			}
			return len(spans) < n
		})
		if err != nil {
			return err
		}
	}
	var buf []byte
	for i := len(spans) - 1; i >= 0; i-- {
		s := spans[i]
		if cap(buf) < s.len {
			buf = make([]byte, s.len)
		}
		buf = buf[:s.len]
		if _, err := files[s.file].f.ReadAt(buf, s.off); err != nil {
			return err
		}
		if err := emit(buf); err != nil {
			return err
		}
	}
	return nil
}

// scanBack calls fn with each line of r's first size bytes, last line first,
// with the line's offset, until fn returns false. Lines exclude their newline.
func scanBack(r io.ReaderAt, size int64, fn func(line []byte, off int64) bool) error {
	const block = 64 << 10
	var buf []byte // the file's bytes [base, base+len(buf)), not yet passed to fn
	base := size
	for {
		end := len(buf)
		if end > 0 && buf[end-1] == '\n' {
			end--
		}
		if i := bytes.LastIndexByte(buf[:end], '\n'); i >= 0 {
			if !fn(buf[i+1:end], base+int64(i+1)) {
				return nil
			}
			buf = buf[:i+1]
			continue
		}
		if base == 0 {
			if len(buf) > 0 {
				fn(buf[:end], 0)
			}
			return nil
		}
		n := min(base, block)
		chunk := make([]byte, int(n), int(n)+len(buf))
		if _, err := r.ReadAt(chunk, base-n); err != nil && err != io.EOF {
			return err
		}
		buf = append(chunk, buf...)
		base -= n
	}
}

// Tail returns up to n last lines of an instance's output, without time and
// instance name. It first collects the instance's new output, so lines not
// yet collected are included, and so is a pending partial line.
func (c *Store) Tail(appName, id string, n int) []string {
	if n <= 0 || app.ValidName(appName) != nil || id == "" {
		return nil
	}
	a := c.app(appName)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.load(); err != nil {
		a.warn("load log offsets", err)
		return nil
	}
	if err := a.scan(); err != nil {
		a.warn("list raw logs", err)
	}
	var f *rawFile
	for name, rf := range a.files {
		if strings.HasSuffix(name, "."+id+".log") {
			f = rf
		}
	}
	if f != nil {
		if _, err := a.collect([]*rawFile{f}, false); err != nil {
			a.warn("collect logs", err)
		}
	}
	files, err := a.openLogs()
	if err != nil {
		a.warn("read app.log", err)
		return nil
	}
	defer closeLogs(files)
	suffix := []byte("." + idSuffix(id))
	var out []string
	err = lastLines(files, n,
		func(line []byte) bool {
			inst, _, ok := splitLine(line)
			return ok && bytes.HasSuffix(inst, suffix)
		},
		func(line []byte) error {
			_, text, _ := splitLine(line)
			out = append(out, string(text))
			return nil
		})
	if err != nil {
		a.warn("read app.log", err)
	}
	if f != nil && len(f.pending) > 0 {
		out = append(out, string(bytes.TrimSuffix(f.pending, []byte("\r"))))
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// Logs implements app.LogSource over the collected logs: it writes the last
// q.Lines lines (default 100) of app.log.1 and app.log, only of q.Process's
// instances if set, to w, then with q.Follow the new lines as Run writes
// them, until ctx ends (which returns nil). A follower that falls 256 lines
// behind loses lines and is told "[pier: N lines dropped]"; it never slows
// the collector. History and followed lines meet without gap or overlap:
// the follower is registered under the same lock that the files are sized
// under.
func (c *Store) Logs(ctx context.Context, appName string, q app.LogQuery, w io.Writer) error {
	if err := app.ValidName(appName); err != nil {
		return err
	}
	n := q.Lines
	if n <= 0 {
		n = 100
	}
	proc := []byte(q.Process)
	keep := func(line []byte) bool {
		if len(proc) == 0 {
			return true
		}
		inst, _, ok := splitLine(line)
		p, _, _ := bytes.Cut(inst, []byte("."))
		return ok && bytes.Equal(p, proc)
	}

	a := c.app(appName)
	a.mu.Lock()
	if err := a.load(); err != nil {
		a.mu.Unlock()
		return err
	}
	files, err := a.openLogs()
	if err != nil {
		a.mu.Unlock()
		return err
	}
	var fl *follower
	if q.Follow {
		fl = a.subscribe(q.Process)
	}
	a.mu.Unlock()
	if fl != nil {
		defer a.unsubscribe(fl)
	}

	bw := bufio.NewWriterSize(w, 32<<10)
	err = lastLines(files, n, keep, func(line []byte) error {
		bw.Write(line)
		return bw.WriteByte('\n')
	})
	closeLogs(files)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if fl == nil {
		return nil
	}
	return fl.stream(ctx, a, bw)
}

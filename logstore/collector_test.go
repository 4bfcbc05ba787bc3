package logstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pier/app"
)

// The collector is tested on plain files written the way the shim writes
// them (O_APPEND), with a clock the test moves.

var t0 = time.Date(2026, 11, 21, 20, 40, 1, 123_000_000, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) { w.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

func testCollector(t *testing.T, dir string) (*Store, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	c := New(dir, 8<<20, slog.New(slog.NewTextHandler(tlog{t}, nil)))
	c.now = clk.Now
	return c, clk
}

// shim appends to a raw file through one O_APPEND descriptor, as the shim does.
type shim struct {
	t *testing.T
	f *os.File
}

func newShim(t *testing.T, dir, app, process, id string) *shim {
	t.Helper()
	p := filepath.Join(dir, app, "raw", process+"."+id+".log")
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &shim{t, f}
}

func (s *shim) write(text string) {
	s.t.Helper()
	if _, err := s.f.WriteString(text); err != nil {
		s.t.Fatal(err)
	}
}

// onDisk is the raw file's size on disk, holes punched left out; it logs
// both sizes.
func (s *shim) onDisk(c *Store) int64 {
	s.t.Helper()
	fi, err := os.Stat(s.f.Name())
	if err != nil {
		s.t.Fatal(err)
	}
	n := fi.Sys().(*syscall.Stat_t).Blocks * 512
	s.t.Logf("raw file: size %d, on disk %d, punching unsupported: %v", fi.Size(), n, c.noPunch.Load())
	return n
}

func (s *shim) size() int64 {
	fi, err := os.Stat(s.f.Name())
	if err != nil {
		s.t.Fatal(err)
	}
	return fi.Size()
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func collected(t *testing.T, dir, app string) []string {
	return readLines(t, filepath.Join(dir, app, "app.log"))
}

// texts strips time and instance name.
func texts(lines []string) []string {
	var out []string
	for _, l := range lines {
		_, text, _ := splitLine([]byte(l))
		out = append(out, string(text))
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func logs(t *testing.T, c *Store, app string, q app.LogQuery) []string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Logs(context.Background(), app, q, &b); err != nil {
		t.Fatal(err)
	}
	return readLinesOf(b.String())
}

func readLinesOf(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestInstanceName(t *testing.T) {
	tests := []struct{ file, want string }{
		{"web.hello-3f2a91c0.log", "web.3f2a91c0"},
		{"worker.my-app-00aa11bb.log", "worker.00aa11bb"},
		{"web.plain.log", "web.plain"},
		{"web.a.b.log", ""},
		{".hello-1.log", ""},
		{"web.hello-1.pos", ""},
		{"hello-1.log", ""},
	}
	for _, tt := range tests {
		got, _ := instanceName(tt.file)
		if got != tt.want {
			t.Errorf("instanceName(%q) = %q, want %q", tt.file, got, tt.want)
		}
	}
}

func TestLinesGetTimeAndInstance(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	web := newShim(t, dir, "hello", "web", "hello-3f2a91c0")
	worker := newShim(t, dir, "hello", "worker", "hello-00aa11bb")
	web.write("listening on 5000\nGET / 200\r\n")
	worker.write("job done\n")
	c.pollAll()
	equal(t, "app.log", collected(t, dir, "hello"), []string{
		"2026-11-21T20:40:01.123Z web.3f2a91c0 listening on 5000",
		"2026-11-21T20:40:01.123Z web.3f2a91c0 GET / 200",
		"2026-11-21T20:40:01.123Z worker.00aa11bb job done",
	})
}

func TestPartialAndLongLines(t *testing.T) {
	dir := t.TempDir()
	c, clk := testCollector(t, dir)
	s := newShim(t, dir, "hello", "web", "hello-1")
	s.write("par")
	c.pollAll()
	equal(t, "after a partial line", collected(t, dir, "hello"), nil)
	s.write("tial\nnext")
	clk.Add(600 * time.Millisecond)
	c.pollAll()
	equal(t, "after its newline", texts(collected(t, dir, "hello")), []string{"partial"})
	clk.Add(600 * time.Millisecond) // "next" is pending since the last poll only
	c.pollAll()
	equal(t, "0.6 s later", texts(collected(t, dir, "hello")), []string{"partial"})
	clk.Add(400 * time.Millisecond)
	c.pollAll()
	equal(t, "1 s later", texts(collected(t, dir, "hello")), []string{"partial", "next"})

	long := strings.Repeat("x", 40000)
	s.write(long + "\n" + long[:maxLineLen] + "\n")
	c.pollAll()
	got := texts(collected(t, dir, "hello"))[2:]
	var lens []int
	for _, l := range got {
		lens = append(lens, len(l))
	}
	if fmt.Sprint(lens) != fmt.Sprint([]int{maxLineLen, maxLineLen, 40000 - 2*maxLineLen, maxLineLen}) {
		t.Errorf("long lines cut into %v", lens)
	}
}

func TestRawFileShrinksWhenQuiet(t *testing.T) {
	dir := t.TempDir()
	c, clk := testCollector(t, dir)
	c.rawMax = 64
	s := newShim(t, dir, "hello", "web", "hello-1")
	var want []string
	for i := range 30 {
		line := fmt.Sprintf("line %02d", i)
		s.write(line + "\n")
		want = append(want, line)
		if i%10 == 9 {
			c.pollAll() // collects; the file just changed, so it stays
			if s.size() == 0 {
				t.Fatalf("raw file truncated while its writer was active")
			}
			clk.Add(c.interval)
			c.pollAll() // quiet for an interval: emptied
			if got := s.size(); got != 0 {
				t.Fatalf("raw file is %d bytes after a quiet poll, want 0", got)
			}
		}
	}
	equal(t, "app.log", texts(collected(t, dir, "hello")), want)
	b, _ := os.ReadFile(filepath.Join(dir, "hello", "offsets.json"))
	if !strings.Contains(string(b), `"web.hello-1.log":0`) {
		t.Errorf("offsets.json %s, want the raw offset reset to 0", b)
	}
}

func TestRawFileOfBusyInstanceStaysSmallOnDisk(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	c.rawMax = 16 << 10
	s := newShim(t, dir, "hello", "web", "hello-1")
	line := strings.Repeat("y", 99) + "\n"
	for range 40 {
		s.write(strings.Repeat(line, 100)) // 10 KB between polls: never quiet
		c.pollAll()
	}
	onDisk := s.onDisk(c)
	if onDisk > 2*c.rawMax+8192 {
		t.Errorf("busy raw file takes %d bytes on disk, want at most %d", onDisk, 2*c.rawMax+8192)
	}
	if got := len(collected(t, dir, "hello")); got != 4000 {
		t.Errorf("%d lines collected, want 4000", got)
	}
}

func TestAppLogRotates(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	c.maxLog = 1000
	s := newShim(t, dir, "hello", "web", "hello-1")
	var want []string
	for i := range 60 {
		line := fmt.Sprintf("line %02d", i)
		s.write(line + "\n")
		want = append(want, line)
		if i%3 == 2 {
			c.pollAll()
		}
	}
	cur := collected(t, dir, "hello")
	old := readLines(t, filepath.Join(dir, "hello", "app.log.1"))
	for name, lines := range map[string][]string{"app.log": cur, "app.log.1": old} {
		if n := len(strings.Join(lines, "\n")) + 1; len(lines) == 0 || n > 1000 {
			t.Errorf("%s has %d bytes, want 1..1000", name, n)
		}
	}
	both := append(old, cur...)
	equal(t, "app.log.1 + app.log", texts(both), want[len(want)-len(both):])
	equal(t, "logs across the rotation", texts(logs(t, c, "hello", app.LogQuery{Lines: 1000})), texts(both))
}

// Offsets survive a restart: a new collector goes on where the old one
// stopped, also when it stopped between writing lines and recording them.
func TestRestartNeitherLosesNorRepeats(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	s := newShim(t, dir, "hello", "web", "hello-1")
	s.write("one\ntwo\nthr")
	c.pollAll()

	// A new collector (pier restarted); the partial line is read again.
	c, _ = testCollector(t, dir)
	s.write("ee\nfour\n")
	c.pollAll()
	equal(t, "after restart", texts(collected(t, dir, "hello")), []string{"one", "two", "three", "four"})

	// Crash after app.log was written but before offsets.json was.
	offsetsPath := filepath.Join(dir, "hello", "offsets.json")
	before, err := os.ReadFile(offsetsPath)
	if err != nil {
		t.Fatal(err)
	}
	s.write("five\n")
	c.pollAll()
	if err := os.WriteFile(offsetsPath, before, 0o640); err != nil {
		t.Fatal(err)
	}
	c, _ = testCollector(t, dir)
	s.write("six\n")
	c.pollAll()
	equal(t, "after crash", texts(collected(t, dir, "hello")), []string{"one", "two", "three", "four", "five", "six"})
}

func TestLogsFilterAndLast(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	web := newShim(t, dir, "hello", "web", "hello-aaaa")
	worker := newShim(t, dir, "hello", "worker", "hello-bbbb")
	var webLines, all []string
	for i := range 3000 { // ~150 KB: several blocks read backwards
		w := fmt.Sprintf("web %04d %s", i, strings.Repeat("w", 10))
		web.write(w + "\n")
		worker.write(fmt.Sprintf("worker %04d\n", i))
		webLines = append(webLines, w)
		if i%500 == 499 {
			c.pollAll()
		}
	}
	all = texts(collected(t, dir, "hello"))

	equal(t, "last 3 web", texts(logs(t, c, "hello", app.LogQuery{Process: "web", Lines: 3})), webLines[len(webLines)-3:])
	equal(t, "last 2000 web", texts(logs(t, c, "hello", app.LogQuery{Process: "web", Lines: 2000})), webLines[len(webLines)-2000:])
	equal(t, "default 100", texts(logs(t, c, "hello", app.LogQuery{})), all[len(all)-100:])
	equal(t, "all", texts(logs(t, c, "hello", app.LogQuery{Lines: 10000})), all)
	if got := logs(t, c, "hello", app.LogQuery{Process: "cron"}); len(got) != 0 {
		t.Errorf("cron lines: %q", got)
	}
	if got := logs(t, c, "nothing", app.LogQuery{}); len(got) != 0 {
		t.Errorf("app without logs: %q", got)
	}
	for _, l := range logs(t, c, "hello", app.LogQuery{Process: "worker", Lines: 50}) {
		if inst, _, _ := splitLine([]byte(l)); string(inst) != "worker.bbbb" {
			t.Fatalf("worker filter let through %q", l)
		}
	}
}

func TestScanBack(t *testing.T) {
	long := strings.Repeat("z", 150<<10)
	tests := []struct {
		name, data string
		want       []string // last first
	}{
		{"empty", "", nil},
		{"one", "a\n", []string{"a"}},
		{"no final newline", "a\nb", []string{"b", "a"}},
		{"empty lines", "a\n\nb\n", []string{"b", "", "a"}},
		{"longer than a block", "a\n" + long + "\nb\n", []string{"b", long, "a"}},
	}
	for _, tt := range tests {
		var got []string
		err := scanBack(strings.NewReader(tt.data), int64(len(tt.data)), func(line []byte, off int64) bool {
			if tt.data[off:off+int64(len(line))] != string(line) {
				t.Errorf("%s: offset %d does not hold %.20q", tt.name, off, line)
			}
			got = append(got, string(line))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("%s: got %d lines %.60q, want %d", tt.name, len(got), got, len(tt.want))
		}
	}
}

// follow starts Logs with Follow and returns a reader of its output.
func follow(t *testing.T, c *Store, app string, q app.LogQuery) (*bufio.Reader, *io.PipeReader, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	q.Follow = true
	go func() { done <- c.Logs(ctx, app, q, pw); pw.Close() }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			go io.Copy(io.Discard, pr)
			select {
			case stopErr = <-done:
			case <-time.After(5 * time.Second):
				stopErr = fmt.Errorf("Logs did not return after cancel")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	// Wait until the follower is registered.
	a := c.app(app)
	for deadline := time.Now().Add(5 * time.Second); ; {
		a.mu.Lock()
		n := len(a.followers)
		a.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("follower never registered")
		}
		time.Sleep(time.Millisecond)
	}
	return bufio.NewReader(pr), pr, stop
}

func readN(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	got := make(chan []string, 1)
	go func() {
		var lines []string
		for range n {
			l, err := r.ReadString('\n')
			if err != nil {
				break
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
		got <- lines
	}()
	select {
	case l := <-got:
		return l
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out reading %d lines", n)
		return nil
	}
}

func TestFollow(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	web := newShim(t, dir, "hello", "web", "hello-aaaa")
	worker := newShim(t, dir, "hello", "worker", "hello-bbbb")
	web.write("old 1\nold 2\n")
	c.pollAll()

	r, _, stop := follow(t, c, "hello", app.LogQuery{Process: "web", Lines: 1})
	equal(t, "history", texts(readN(t, r, 1)), []string{"old 2"})
	var want []string
	for i := range 50 {
		line := fmt.Sprintf("new %d", i)
		web.write(line + "\n")
		worker.write("not web\n")
		want = append(want, line)
		if i%7 == 0 {
			c.pollAll()
		}
	}
	c.pollAll()
	equal(t, "followed", texts(readN(t, r, 50)), want)
	if err := stop(); err != nil {
		t.Errorf("Logs after cancel: %v", err)
	}
	if n := len(c.app("hello").followers); n != 0 {
		t.Errorf("%d followers left after cancel", n)
	}
}

func TestSlowFollowerDropsLines(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	s := newShim(t, dir, "hello", "web", "hello-aaaa")
	r, _, _ := follow(t, c, "hello", app.LogQuery{}) // nobody reads r yet

	const total = 2000
	pad := strings.Repeat("p", 200)
	for i := range total {
		s.write(fmt.Sprintf("%04d %s\n", i, pad))
	}
	done := make(chan struct{})
	go func() { c.pollAll(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("collector blocked by a follower that does not read")
	}
	s.write("last\n")
	c.pollAll()
	if got := len(collected(t, dir, "hello")); got != total+1 {
		t.Fatalf("app.log has %d lines, want %d", got, total+1)
	}

	received, dropped := 0, 0
	for received+dropped < total+1 {
		l := readN(t, r, 1)[0]
		var n int
		if _, err := fmt.Sscanf(l, "[pier: %d lines dropped]", &n); err == nil {
			dropped += n
			continue
		}
		received++
		if strings.HasSuffix(l, " last") && received+dropped != total+1 {
			t.Fatalf("last line after %d received + %d dropped, want %d", received, dropped, total)
		}
	}
	if dropped == 0 {
		t.Errorf("nothing dropped for a follower that did not read")
	}
	t.Logf("received %d, dropped %d", received, dropped)
}

func TestForgetDrainsThenDeletes(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	s := newShim(t, dir, "hello", "web", "hello-1")
	keep := newShim(t, dir, "hello", "web", "hello-2")
	s.write("a\n")
	keep.write("other\n")
	c.pollAll()
	s.write("b\nlast words")
	c.Forget("hello", "web", "hello-1")
	equal(t, "app.log", texts(collected(t, dir, "hello")), []string{"a", "other", "b", "last words"})
	if _, err := os.Stat(s.f.Name()); !os.IsNotExist(err) {
		t.Errorf("raw file still there: %v", err)
	}
	var st offsets
	b, _ := os.ReadFile(filepath.Join(dir, "hello", "offsets.json"))
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Raw["web.hello-1.log"]; ok || len(st.Raw) != 1 {
		t.Errorf("offsets after forget: %s", b)
	}
	c.Forget("hello", "web", "hello-1") // again: nothing happens
	c.Forget("hello", "", "hello-2")    // not an instance (a build): nothing happens
	c.Forget("../x", "web", "hello-2")
	if _, err := os.Stat(keep.f.Name()); err != nil {
		t.Errorf("other instance's raw file: %v", err)
	}
	c.pollAll()
	if got := len(collected(t, dir, "hello")); got != 4 {
		t.Errorf("%d lines after forgetting twice, want 4", got)
	}
}

// A poll that took the app's state just before the app's logs were
// removed (apps:destroy) or moved (apps:rename) writes nothing after:
// the directory is not made again under the old name.
func TestPollAfterRemoveMakesNothing(t *testing.T) {
	for _, move := range []func(c *Store) error{
		func(c *Store) error { return c.RemoveFiles("hello") },
		func(c *Store) error { return c.RenameFiles("hello", "greeter") },
	} {
		dir := t.TempDir()
		c, _ := testCollector(t, dir)
		s := newShim(t, dir, "hello", "web", "hello-1")
		s.write("a\n")
		c.pollAll()
		s.write("b\n")
		a := c.app("hello") // as pollAll holds it, waiting for the lock
		if err := move(c); err != nil {
			t.Fatal(err)
		}
		a.mu.Lock()
		a.poll()
		a.mu.Unlock()
		fresh := c.app("hello") // as pollAll makes it, having listed hello before it went
		fresh.mu.Lock()
		fresh.poll()
		fresh.mu.Unlock()
		if _, err := os.Stat(filepath.Join(dir, "hello")); !os.IsNotExist(err) {
			t.Errorf("hello's log directory is back after its logs went: %v", err)
		}
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	s := newShim(t, dir, "hello", "web", "hello-3f2a91c0")
	other := newShim(t, dir, "hello", "web", "hello-00000000")
	for i := range 30 {
		s.write(fmt.Sprintf("line %d\n", i))
		other.write("noise\n")
	}
	c.pollAll()
	s.write("uncollected\nTraceback (most")
	equal(t, "tail", c.Tail("hello", "hello-3f2a91c0", 4), []string{"line 28", "line 29", "uncollected", "Traceback (most"})
	if got := c.Tail("hello", "hello-99999999", 5); len(got) != 0 {
		t.Errorf("tail of an unknown instance: %q", got)
	}
	if got := c.Tail("../etc", "x-1", 5); got != nil {
		t.Errorf("tail of a bad app name: %q", got)
	}
}

// TestRawBacklogBounded checks that an instance printing faster than the
// collector reads cannot grow its raw file on disk without bound: past
// the backlog bound, the uncollected output is dropped with a line that
// says so, and its disk space is given back.
func TestRawBacklogBounded(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	c.rawMax = 16 << 10
	c.backlog = 4 << 20
	s := newShim(t, dir, "hello", "web", "hello-1")
	chunk := strings.Repeat(strings.Repeat("z", 1023)+"\n", 3<<10) // 3 MiB a poll, past maxRead
	for range 20 {
		s.write(chunk)
		c.pollAll()
	}
	onDisk := s.onDisk(c)
	if max := c.backlog + int64(len(chunk)) + 2*c.rawMax + 8192; onDisk > max {
		t.Errorf("raw file of an endless printer takes %d bytes on disk, want at most %d", onDisk, max)
	}
	var dropped int
	for _, l := range texts(collected(t, dir, "hello")) {
		if strings.HasPrefix(l, "pier: ") && strings.Contains(l, "MiB of output dropped: the app printed faster than pier collects (at most 4 MiB wait)") {
			dropped++
		}
	}
	if dropped == 0 {
		t.Error("no line in app.log says output was dropped")
	}
}

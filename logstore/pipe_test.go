package logstore

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pipeShim opens a raw pipe the way the shim does: a blocking write end
// (pier's read end is open already) and a read end of its own, so that its
// writes never fail for want of a reader.
func pipeShim(t *testing.T, path string) *os.File {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); r.Close() })
	return w
}

func TestPipeCollected(t *testing.T) {
	dir := t.TempDir()
	c, clk := testCollector(t, dir)
	path, err := c.OpenRaw("hello", "web", "hello-1")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeNamedPipe {
		t.Fatalf("raw path %s: %v %v, want a named pipe", path, fi, err)
	}
	w := pipeShim(t, path)
	w.WriteString("one\ntwo\nhalf")
	c.pollAll()
	equal(t, "app.log", texts(collected(t, dir, "hello")), []string{"one", "two"})
	if got := c.Tail("hello", "hello-1", 5); strings.Join(got, ",") != "one,two,half" {
		t.Errorf("tail: %q", got)
	}
	clk.Add(2 * time.Second)
	w.WriteString(" a line\n")
	c.pollAll()
	equal(t, "app.log", texts(collected(t, dir, "hello")), []string{"one", "two", "half a line"})

	// pier restarts: the shim's ends keep what was written meanwhile.
	w.WriteString("while pier was down\n")
	c.app("hello").closePipes()
	c2, _ := testCollector(t, dir)
	c2.pollAll()
	equal(t, "app.log after a restart", texts(collected(t, dir, "hello")),
		[]string{"one", "two", "half a line", "while pier was down"})

	// The instance ends: its last words are collected, the pipe goes.
	w.WriteString("last words")
	c2.Forget("hello", "web", "hello-1")
	equal(t, "app.log after forget", texts(collected(t, dir, "hello"))[4:], []string{"last words"})
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("raw pipe still there: %v", err)
	}
}

// An app printing while pier cannot write app.log (a full disk) is not
// held up: its output is dropped, and a line says how much once there is
// room again.
func TestPipeFullDiskDropsOutput(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	path, err := c.OpenRaw("hello", "web", "hello-1")
	if err != nil {
		t.Fatal(err)
	}
	w := pipeShim(t, path)
	c.SetReserve(1 << 62) // no disk has that much free
	const total = 8 << 20 // eight times what the pipe holds
	line := strings.Repeat("x", 1023) + "\n"
	wrote := make(chan error, 1)
	go func() {
		var err error
		for n := 0; n < total && err == nil; n += len(line) {
			_, err = w.WriteString(line)
		}
		wrote <- err
	}()
	deadline := time.After(20 * time.Second)
	for done := false; !done; {
		c.pollAll()
		select {
		case err := <-wrote:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-deadline:
			t.Fatal("the app is held up while app.log cannot be written")
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.pollAll()
	if got := collected(t, dir, "hello"); len(got) != 0 {
		t.Fatalf("%d lines written below the reserve", len(got))
	}
	c.SetReserve(0)
	w.WriteString("back\n")
	c.pollAll()
	got := texts(collected(t, dir, "hello"))
	if len(got) != 2 || !strings.HasPrefix(got[0], "pier: 8192 KiB of output dropped: ") ||
		!strings.Contains(got[0], "the disk is nearly full") || got[1] != "back" {
		t.Fatalf("after the disk has room: %q", got)
	}
}

func TestOpenRawRejectsNonInstances(t *testing.T) {
	c, _ := testCollector(t, t.TempDir())
	for _, args := range [][3]string{{"../x", "web", "x-1"}, {"hello", "", "hello-1"}, {"hello", "web", "a/b"}, {"hello", "we.b", "hello-1"}} {
		if _, err := c.OpenRaw(args[0], args[1], args[2]); err == nil {
			t.Errorf("OpenRaw%q: no error", args)
		}
	}
}

// After a reboot the raw output of instances that are gone is collected
// and removed; that of live ones stays.
func TestForgetOthers(t *testing.T) {
	dir := t.TempDir()
	c, _ := testCollector(t, dir)
	gone, err := c.OpenRaw("hello", "web", "hello-1")
	if err != nil {
		t.Fatal(err)
	}
	live, err := c.OpenRaw("hello", "web", "hello-2")
	if err != nil {
		t.Fatal(err)
	}
	w := pipeShim(t, gone)
	w.WriteString("last words\n")
	old := newShim(t, dir, "other", "worker", "other-1") // a regular file, as older versions wrote
	old.write("old\n")
	if err := c.ForgetOthers(func(id string) bool { return id == "hello-2" }); err != nil {
		t.Fatal(err)
	}
	equal(t, "hello's app.log", texts(collected(t, dir, "hello")), []string{"last words"})
	equal(t, "other's app.log", texts(collected(t, dir, "other")), []string{"old"})
	for _, p := range []string{gone, old.f.Name()} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it removed", p, err)
		}
	}
	if _, err := os.Lstat(live); err != nil {
		t.Errorf("a live instance's pipe: %v", err)
	}
}

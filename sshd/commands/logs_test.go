package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"pier/app"
)

// Logs of the fake writes one line naming the query and, when following,
// waits for the caller to go away.
func (p *platform) Logs(ctx context.Context, name string, q app.LogQuery, w io.Writer) error {
	if err := p.known(name); err != nil {
		return err
	}
	fmt.Fprintf(w, "logs %s process=%q lines=%d follow=%v\n", name, q.Process, q.Lines, q.Follow)
	if p.output != "" {
		io.WriteString(w, p.output)
	}
	if q.Follow {
		<-ctx.Done()
	}
	return nil
}

func TestLogs(t *testing.T) {
	p := newPlatform()
	p.apps["hello"] = app.App{Name: "hello"}
	tb := newTable(p)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"logs", "hello"}, `logs hello process="" lines=100 follow=false`},
		{[]string{"logs", "hello", "-n", "20", "-p", "web"}, `logs hello process="web" lines=20 follow=false`},
		{[]string{"logs", "-p", "worker_2", "hello", "--num=10000"}, `logs hello process="worker_2" lines=10000 follow=false`},
		{[]string{"logs", "hello", "--process=web", "--num", "1"}, `logs hello process="web" lines=1 follow=false`},
	}
	for _, tt := range tests {
		r := run(tb, alice, "", tt.args...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != tt.want {
			t.Errorf("%v: exit %d stdout %q stderr %q, want %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}
	if r := run(tb, alice, "", "help", "logs"); !strings.Contains(r.stdout, "usage: logs APP [-t] [-p TYPE] [-n N]") ||
		!strings.Contains(r.stdout, "logs hello -t -p web -n 20") {
		t.Errorf("help logs: %q", r.stdout)
	}
	if r := run(tb, alice, "", "logs", "nope"); r.code != 1 || r.stderr != "pier: app \"nope\" does not exist\n" {
		t.Errorf("unknown app: exit %d stderr %q", r.code, r.stderr)
	}
}

// With -t the command streams until the client disconnects (ctx ends).
func TestLogsFollowEndsWithTheClient(t *testing.T) {
	p := newPlatform()
	p.apps["hello"] = app.App{Name: "hello"}
	tb := newTable(p)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- tb.Run(ctx, Call{User: alice, Args: []string{"logs", "hello", "-t"}, Stdout: pw})
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.Contains(line, "follow=true") {
		t.Fatalf("first line %q, %v", line, err)
	}
	select {
	case code := <-done:
		t.Fatalf("logs -t returned %d before the client left", code)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after disconnect, want 0", code)
	}
}

func TestLogsBadUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no app", []string{"logs"}, ""},
		{"only options", []string{"logs", "-t", "-n", "5"}, ""},
		{"two apps", []string{"logs", "a", "b"}, ""},
		{"bad app", []string{"logs", "../etc"}, "invalid"},
		{"n zero", []string{"logs", "hello", "-n", "0"}, "from 1 to 10000"},
		{"n too many", []string{"logs", "hello", "--num=10001"}, "from 1 to 10000"},
		{"n not a number", []string{"logs", "hello", "-n", "ten"}, `"ten"`},
		{"n missing", []string{"logs", "hello", "-n"}, "-n needs a value"},
		{"p upper case", []string{"logs", "hello", "-p", "Web"}, `process type "Web" is invalid`},
		{"p path", []string{"logs", "hello", "--process", "../web"}, "invalid"},
		{"p empty", []string{"logs", "hello", "--process="}, "invalid"},
		{"p missing", []string{"logs", "hello", "-p"}, "-p needs a value"},
		{"unknown option", []string{"logs", "hello", "-f"}, `unknown option "-f"`},
		{"tail with value", []string{"logs", "hello", "--tail=1"}, "takes no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlatform()
			p.apps["hello"] = app.App{Name: "hello"}
			r := run(newTable(p), alice, "", tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, "usage: logs APP") || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("exit %d stderr %q, want 2, the usage and %q", r.code, r.stderr, tt.wantErr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

// An app's output reaches a terminal without control sequences: no
// escape, no C1 control, no stray byte; text, tabs and newlines stay.
// What an app printed reaches the client of logs with its terminal
// sequences defused.
func TestLogsCommandDefusesOutput(t *testing.T) {
	p := newPlatform()
	p.apps["hello"] = app.App{Name: "hello"}
	p.output = "2026-01-01T00:00:00Z web.1 \x1b]0;owned\x07\x1b[2Jgone\n"
	r := run(newTable(p), root, "", "logs", "hello")
	if r.code != 0 || strings.ContainsAny(r.stdout, "\x1b\x07") || !strings.Contains(r.stdout, "?]0;owned??[2Jgone") {
		t.Errorf("logs: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestLogsDefuseTerminalSequences(t *testing.T) {
	var b strings.Builder
	w := &printable{w: &b}
	in := "ok\tline é\n\x1b]0;owned\x07\x1b[2J\u009b6n\xff\r\n"
	// Written a byte at a time, so UTF-8 sequences arrive split.
	for i := range len(in) {
		w.Write([]byte{in[i]})
	}
	if got, want := b.String(), "ok\tline é\n?]0;owned??[2J?6n??\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

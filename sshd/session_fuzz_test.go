package sshd

import (
	"slices"
	"strings"
	"testing"
)

// An exec request's command line, whatever a client sends, splits into
// words or a one-line error; the words are no longer than the line, and
// quoted again (as the host CLI sends them) they split back the same.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{
		"git-receive-pack '/hello.git'",
		`  a   "b c" d\ e "x\"y\\z" 'p'"q"r  `,
		"a \\\nb",
		"",
		"'open", `"open`, `a "b\"`,
		"apps:create hello",
		"logs hello -n 20 -p web",
		"config:set hello 'GREETING=hi there' DEBUG=0",
		`run hello -- sh -c "echo \"\$HOME\""`,
		"record 'a b' 'it'\\''s' '' '\"q\"' 'back\\slash' 'new\nline' '$HOME' \"'\" trailing\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, err := splitCommand(line)
		if err != nil {
			if args != nil || err.Error() == "" || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("%q: %q, error %q", line, args, err)
			}
			return
		}
		n := 0
		for _, a := range args {
			n += len(a)
		}
		if n > len(line) || len(args) > len(line)/2+1 {
			t.Fatalf("%q (%d bytes) splits into %d words of %d bytes", line, len(line), len(args), n)
		}
		again, err := splitCommand(commandLine(args))
		if len(args) == 0 {
			again = args // commandLine of no words is "", which splits into none
		}
		if err != nil || !slices.Equal(again, args) {
			t.Fatalf("%q splits into %q; quoted again as %q, into %q, %v", line, args, commandLine(args), again, err)
		}
	})
}

// The host CLI's commandLine quotes any words, empty ones and quotes
// included, so that the daemon's splitCommand gets exactly those words.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{
		"apps:list",
		"record\x00a b\x00it's\x00\x00\"q\"\x00back\\slash\x00uni ☃\x00new\nline\x00$HOME\x00'\x00''\x00 ",
		"",
		"run\x00hello\x00--\x00sh\x00-c\x00echo \"$1\" `id`",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		got, err := splitCommand(commandLine(args))
		if err != nil || !slices.Equal(got, args) {
			t.Fatalf("%q: quoted as %q, splits into %q, %v", args, commandLine(args), got, err)
		}
	})
}

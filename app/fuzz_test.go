package app

import (
	"strings"
	"testing"
)

// checkMessage fails t unless err (or a warning) reads as pier's messages
// must for hostile input: not empty, one line, and not longer than the
// input could explain (hostile input is trimmed before it is echoed).
func checkMessage(t *testing.T, what, msg string) {
	t.Helper()
	if strings.TrimSpace(msg) == "" {
		t.Fatalf("%s is empty", what)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("%s is more than one line: %q", what, msg)
	}
	if len(msg) > maxMessageBytes {
		t.Fatalf("%s is %d bytes long: %.200q...", what, len(msg), msg)
	}
}

// maxMessageBytes bounds an error or warning: each quotes at most a few
// trimmed pieces of the input.
const maxMessageBytes = 1 << 10

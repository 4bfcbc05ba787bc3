package app

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxNameLen is the longest app (and key) name pier accepts: one DNS label.
const MaxNameLen = 63

// ReservedName cannot name an app: the dashboard answers at pier.<domain>.
const ReservedName = "pier"

// ValidName reports whether name can name an app. It is the one check between
// user input and every path, hostname and container ID built from an app
// name: lowercase ASCII letters, digits and dashes, starting with a letter or
// digit, not ending with a dash, at most 63 characters. Nothing else — no
// dots, slashes or upper case — gets through.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("app name is empty: use lowercase letters, digits and dashes")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("app name %q is %d characters long: the limit is %d", trim(name), len(name), MaxNameLen)
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(name)-1:
		default:
			return fmt.Errorf("app name %q is invalid: use lowercase letters, digits and dashes (not at the start or end)", trim(name))
		}
	}
	return nil
}

// trim shortens hostile input before it is echoed back in an error.
func trim(s string) string {
	const max = 80
	s = strings.ToValidUTF8(s, "?")
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// oneLine is trim with control characters (newlines among them) escaped as
// in a Go string, for hostile text echoed inside an error that is not
// quoted as a whole.
func oneLine(s string) string {
	q := strconv.Quote(trim(s))
	return q[1 : len(q)-1]
}

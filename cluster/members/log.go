package members

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newMemberlistLogger returns the *log.Logger memberlist and its transport
// write to, feeding log: memberlist's warnings and errors at warn (they
// are about peers and packets, which fail in the normal life of a
// cluster; this package logs joins, failures and departures itself), its
// info at debug, its own debug not at all. A line without a level is
// taken as a warning.
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}

// logWriter takes the lines memberlist prints, "[WARN] memberlist: ...".
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	level := slog.LevelWarn
	for _, l := range []struct {
		prefix string
		level  slog.Level
		drop   bool
	}{
		{"[DEBUG] ", 0, true},
		{"[INFO] ", slog.LevelDebug, false},
		{"[WARN] ", slog.LevelWarn, false},
		{"[ERR] ", slog.LevelWarn, false},
		{"[ERROR] ", slog.LevelWarn, false},
	} {
		if rest, ok := bytes.CutPrefix(line, []byte(l.prefix)); ok {
			if l.drop {
				return len(p), nil
			}
			line, level = rest, l.level
			break
		}
	}
	ctx := context.Background()
	if w.log.Enabled(ctx, level) {
		line = bytes.TrimPrefix(line, []byte("memberlist: "))
		w.log.Log(ctx, level, string(line), "subsystem", "memberlist")
	}
	return len(p), nil
}

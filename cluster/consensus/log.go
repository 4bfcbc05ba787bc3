package consensus

import (
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newRaftLogger returns the hclog.Logger raft and its transport write to,
// feeding log: raft's warnings and errors at those levels, its info
// (elections, membership, snapshots) at debug, its own debug and trace
// not at all.
func newRaftLogger(log *slog.Logger) hclog.Logger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Off, // the intercepting logger's own output; the sink gets every message
		Output: io.Discard,
	})
	l.RegisterSink(slogSink{log})
	return l
}

// slogSink hands hclog messages to a slog.Logger.
type slogSink struct{ log *slog.Logger }

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	var l slog.Level
	switch level {
	case hclog.Error:
		l = slog.LevelError
	case hclog.Warn:
		l = slog.LevelWarn
	case hclog.Info:
		l = slog.LevelDebug
	default:
		return
	}
	ctx := context.Background()
	if !s.log.Enabled(ctx, l) {
		return
	}
	s.log.Log(ctx, l, msg, append([]any{"subsystem", name}, args...)...)
}

package logstore

import (
	"bufio"
	"context"
	"fmt"
)

// followBuffer is how many lines a follower may fall behind before lines
// are dropped for it.
const followBuffer = 256

// follower receives an app's new lines as the collector writes them. The
// collector never waits for a follower: when its buffer is full, lines are
// dropped and counted, and the count comes with the next line delivered.
type follower struct {
	process string // only this process type; "" for all
	ch      chan followed
	dropped int // guarded by the appLog's mu
}

type followed struct {
	line    string // formatted, with its newline
	dropped int    // lines dropped just before this one
}

// subscribe adds a follower. a.mu must be held.
func (a *appLog) subscribe(process string) *follower {
	f := &follower{process: process, ch: make(chan followed, followBuffer)}
	a.followers[f] = struct{}{}
	return f
}

func (a *appLog) unsubscribe(f *follower) {
	a.mu.Lock()
	delete(a.followers, f)
	a.mu.Unlock()
}

// publish offers a line to every follower of its process without blocking.
// a.mu must be held.
func (a *appLog) publish(line, process string) {
	for f := range a.followers {
		if f.process != "" && f.process != process {
			continue
		}
		select {
		case f.ch <- followed{line: line, dropped: f.dropped}:
			f.dropped = 0
		default:
			f.dropped++
		}
	}
}

// stream writes the follower's lines to w until ctx ends (nil) or a write
// fails. Whenever it has caught up it reports lines dropped since the last
// one delivered, and flushes.
func (f *follower) stream(ctx context.Context, a *appLog, w *bufio.Writer) error {
	write := func(m followed) {
		if m.dropped > 0 {
			fmt.Fprintf(w, "[pier: %d lines dropped]\n", m.dropped)
		}
		w.WriteString(m.line)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-f.ch:
			write(m)
		drain:
			for {
				select {
				case m := <-f.ch:
					write(m)
				default:
					break drain
				}
			}
			a.mu.Lock()
			if len(f.ch) == 0 && f.dropped > 0 {
				write(followed{dropped: f.dropped})
				f.dropped = 0
			}
			a.mu.Unlock()
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

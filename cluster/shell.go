package cluster

// Shells across machines. `run` and `enter` reach the app where it runs:
// a machine the app is placed on, which has its volumes and its running
// instances. The machine the client is connected to opens a connection to
// that one (HTTP upgraded to a stream, over the cluster's mutual TLS) and
// relays the session both ways in frames: what the client types and its
// window size one way, the command's output and its exit status the
// other. Either end closing the connection ends the command.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"pier/app"
	"pier/cluster/pki"
)

const (
	pathShell    = "/cluster/v1/shell"
	shellUpgrade = "pier-shell/1"
	// maxFrame bounds one frame's payload: a read of the client's input,
	// a piece of output, the head.
	maxFrame = 64 << 10
)

// Frame types.
const (
	frameHead   = 'h' // JSON shellHead, first from the asker
	frameStdin  = 'i' // input bytes
	frameEOF    = 'c' // the input ended
	frameResize = 'r' // 4 bytes: width, height
	frameOutput = 'o' // output bytes
	frameExit   = 'x' // JSON shellExit, last from the runner
)

// shellHead says what to run: a `run` or an `enter`.
type shellHead struct {
	Kind    string    `json:"kind"` // "run" or "enter"
	App     string    `json:"app"`
	Process string    `json:"process,omitempty"`
	Command string    `json:"command"`
	Stdin   bool      `json:"stdin"`
	TTY     *shellTTY `json:"tty,omitempty"`
}

type shellTTY struct {
	Term          string `json:"term"`
	Width, Height int
}

type shellExit struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// RunOn runs r on machine node, as `run` there would, relaying its input,
// terminal and output.
func (c *Cluster) RunOn(ctx context.Context, node string, r app.RunRequest) (int, error) {
	h := shellHead{Kind: "run", App: r.App, Command: r.Command, Stdin: r.Stdin != nil, TTY: headTTY(r.TTY)}
	return c.shellOn(ctx, node, h, r.Out, r.Stdin, r.TTY)
}

// EnterOn runs r in an instance on machine node, as `enter` there would.
func (c *Cluster) EnterOn(ctx context.Context, node string, r app.EnterRequest) (int, error) {
	h := shellHead{Kind: "enter", App: r.App, Process: r.Process, Command: r.Command, Stdin: r.Stdin != nil, TTY: headTTY(r.TTY)}
	return c.shellOn(ctx, node, h, r.Out, r.Stdin, r.TTY)
}

func headTTY(t *app.Terminal) *shellTTY {
	if t == nil {
		return nil
	}
	return &shellTTY{Term: t.Term, Width: t.Size.Width, Height: t.Size.Height}
}

func (c *Cluster) shellOn(ctx context.Context, node string, h shellHead, out io.Writer, stdin io.Reader, tty *app.Terminal) (int, error) {
	if out == nil {
		out = io.Discard
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+node+pathShell, nil)
	if err != nil {
		return -1, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", shellUpgrade)
	resp, err := c.Client().Do(req)
	if err != nil {
		return -1, fmt.Errorf("%s on %s: %w", h.Kind, node, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		var e errorResponse
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return -1, fmt.Errorf("%s on %s: %s %s", h.Kind, node, resp.Status, e.Error)
	}
	conn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return -1, fmt.Errorf("%s on %s: the connection cannot carry a session", h.Kind, node)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	fw := &frameWriter{w: conn}
	head, _ := json.Marshal(h)
	if err := fw.frame(frameHead, head); err != nil {
		return -1, fmt.Errorf("%s on %s: %w", h.Kind, node, err)
	}
	done := make(chan struct{})
	defer close(done)
	if stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 && fw.frame(frameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					fw.frame(frameEOF, nil)
					return
				}
			}
		}()
	}
	if tty != nil && tty.Resize != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case s, ok := <-tty.Resize:
					if !ok {
						return
					}
					var b [4]byte
					binary.BigEndian.PutUint16(b[:2], uint16(min(max(s.Width, 0), 0xffff)))
					binary.BigEndian.PutUint16(b[2:], uint16(min(max(s.Height, 0), 0xffff)))
					if fw.frame(frameResize, b[:]) != nil {
						return
					}
				}
			}
		}()
	}
	br := bufio.NewReader(conn)
	for {
		typ, payload, err := readFrame(br)
		if err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			return -1, fmt.Errorf("%s on %s: the connection broke: %w", h.Kind, node, err)
		}
		switch typ {
		case frameOutput:
			if _, err := out.Write(payload); err != nil {
				return -1, err
			}
		case frameExit:
			var x shellExit
			if err := json.Unmarshal(payload, &x); err != nil {
				return -1, fmt.Errorf("%s on %s: no exit status came back", h.Kind, node)
			}
			if x.Error != "" {
				return x.Code, errors.New(x.Error)
			}
			return x.Code, nil
		default:
			return -1, fmt.Errorf("%s on %s: unexpected frame %q", h.Kind, node, typ)
		}
	}
}

// serveShell runs the `run` or `enter` another machine relays, here.
func (c *Cluster) serveShell(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Run == nil || c.cfg.Enter == nil {
		writeJSON(w, http.StatusNotImplemented, errorResponse{Error: "this machine runs no shells"})
		return
	}
	if r.Header.Get("Upgrade") != shellUpgrade {
		writeJSON(w, http.StatusBadRequest, errorResponse{Error: "shell: upgrade to " + shellUpgrade})
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorResponse{Error: "shell: " + err.Error()})
		return
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+shellUpgrade+"\r\n\r\n"); err != nil {
		return
	}
	fw := &frameWriter{w: conn}
	fail := func(err error) {
		b, _ := json.Marshal(shellExit{Code: -1, Error: err.Error()})
		fw.frame(frameExit, b)
	}
	typ, payload, err := readFrame(brw.Reader)
	var h shellHead
	if err == nil && (typ != frameHead || json.Unmarshal(payload, &h) != nil) {
		err = errors.New("the session did not start with what to run")
	}
	if err != nil {
		fail(fmt.Errorf("shell: %w", err))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	var stdin io.Reader
	pr, pw := io.Pipe()
	defer pr.Close()
	if h.Stdin {
		stdin = pr
	}
	var tty *app.Terminal
	resize := make(chan app.WindowSize, 1)
	if h.TTY != nil {
		tty = &app.Terminal{Term: h.TTY.Term, Size: app.WindowSize{Width: h.TTY.Width, Height: h.TTY.Height}, Resize: resize}
	}
	// What the asker sends: input, its end, window sizes. The asker going
	// away ends the command.
	go func() {
		defer cancel()
		for {
			typ, payload, err := readFrame(brw.Reader)
			if err != nil {
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			switch {
			case typ == frameStdin:
				if _, err := pw.Write(payload); err != nil {
					return
				}
			case typ == frameEOF:
				pw.Close()
			case typ == frameResize && len(payload) == 4:
				s := app.WindowSize{Width: int(binary.BigEndian.Uint16(payload[:2])), Height: int(binary.BigEndian.Uint16(payload[2:]))}
				select {
				case <-resize: // only the latest size matters
				default:
				}
				resize <- s
			default:
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
		}
	}()
	out := outputWriter{fw}
	peer, _ := pki.PeerName(r.TLS)
	var code int
	switch h.Kind {
	case "run":
		code, err = c.cfg.Run(ctx, app.RunRequest{App: h.App, Command: h.Command, Out: out, Stdin: stdin, TTY: tty, Here: true})
	case "enter":
		code, err = c.cfg.Enter(ctx, app.EnterRequest{App: h.App, Process: h.Process, Command: h.Command, Out: out, Stdin: stdin, TTY: tty, Here: true})
	default:
		err = fmt.Errorf("shell: unknown kind %q", h.Kind)
	}
	c.log.Info("ran a shell for another machine", "kind", h.Kind, "app", h.App, "for", peer, "exit", code, "err", err)
	x := shellExit{Code: code}
	if err != nil {
		x.Error = err.Error()
	}
	b, _ := json.Marshal(x)
	fw.frame(frameExit, b)
}

// frameWriter writes frames from several goroutines.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameWriter) frame(typ byte, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		n := min(len(payload), maxFrame)
		var hdr [5]byte
		hdr[0] = typ
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := f.w.Write(append(hdr[:], payload[:n]...)); err != nil {
			return err
		}
		if payload = payload[n:]; len(payload) == 0 {
			return nil
		}
	}
}

// outputWriter sends a command's output as output frames.
type outputWriter struct{ f *frameWriter }

func (o outputWriter) Write(p []byte) (int, error) {
	if err := o.f.frame(frameOutput, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// readFrame reads one frame, refusing payloads over maxFrame.
func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("a frame of %d bytes (at most %d)", n, maxFrame)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

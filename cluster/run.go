package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"pier/app"
	"pier/cluster/members"
	"pier/cluster/pki"
)

// pathRun runs a one-off container on the machine asked: a cron job's run
// that the leader fires.
const pathRun = "/cluster/v1/run"

// trailerExit carries a one-off's exit status after its output.
const trailerExit = "Pier-Exit"

type runRequest struct {
	OneOff app.OneOff `json:"one_off"`
}

// RunOnce runs o to its end on the machine of the cluster with the most
// room among those that run o's app (it has the image and the app's
// volumes there), else among all, this machine counted a tenth more; on a
// machine in no cluster, here. o's output streams to o.Out from wherever
// it runs, and cancelling ctx kills it there. It returns o's exit status.
// One with a standard input or a terminal runs here.
func (c *Cluster) RunOnce(ctx context.Context, o app.OneOff) (int, error) {
	if c.cfg.RunOnce == nil {
		return -1, errors.New("this machine runs no one-off containers")
	}
	node := ""
	if o.Stdin == nil && o.TTY == nil { // an interactive one runs here, where its client is
		node = c.runnerFor(ctx, o)
	}
	if node == "" {
		return c.cfg.RunOnce(ctx, o)
	}
	code, err := c.runOn(ctx, node, o)
	if err != nil && o.Out != nil {
		fmt.Fprintf(o.Out, "pier: on %s: %v\n", node, err)
	}
	return code, err
}

// runnerFor chooses the machine to run o on; "" for this one.
func (c *Cluster) runnerFor(ctx context.Context, o app.OneOff) string {
	c.mu.RLock()
	m := c.on
	c.mu.RUnlock()
	if m == nil {
		return ""
	}
	a, err := c.cfg.Store.App(ctx, o.App)
	if err != nil {
		return ""
	}
	need := int64(o.Limits.MemoryMiB) << 20
	if need == 0 {
		need = defaultAppMemory
	}
	var best members.Member
	var bestRoom int64 = -1
	consider := func(only []string) {
		for _, g := range m.gossip.Members() {
			if g.State != members.Alive || g.Load.MemAvail < need || only != nil && !slices.Contains(only, g.Name) {
				continue
			}
			room := g.Load.MemAvail
			if g.Name == m.id.Name {
				room += room / 10
			}
			if room > bestRoom || room == bestRoom && g.Name < best.Name {
				best, bestRoom = g, room
			}
		}
	}
	if len(a.Placement) > 0 {
		consider(a.Placement)
	}
	if bestRoom < 0 {
		consider(nil)
	}
	if bestRoom < 0 || best.Name == m.id.Name {
		return ""
	}
	return best.Name
}

// runOn runs o on machine node.
func (c *Cluster) runOn(ctx context.Context, node string, o app.OneOff) (int, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	o.Out = nil
	body, err := json.Marshal(runRequest{OneOff: o})
	if err != nil {
		return -1, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+node+pathRun, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client().Do(req)
	if err != nil {
		return -1, fmt.Errorf("run on %s: %w", node, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return -1, fmt.Errorf("run on %s: %s %s", node, resp.Status, e.Error)
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return -1, fmt.Errorf("run on %s: the connection broke: %w", node, err)
	}
	if msg := trailerMessage(resp); msg != "" {
		return -1, errors.New(msg)
	}
	code, err := strconv.Atoi(resp.Trailer.Get(trailerExit))
	if err != nil {
		return -1, fmt.Errorf("run on %s: no exit status came back", node)
	}
	return code, nil
}

// serveRun runs a one-off another machine asks for, streaming its output;
// the request's end (the asker cancelled) kills it.
func (c *Cluster) serveRun(w http.ResponseWriter, r *http.Request) {
	if c.cfg.RunOnce == nil {
		writeJSON(w, http.StatusNotImplemented, errorResponse{Error: "this machine runs no one-off containers"})
		return
	}
	var req runRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActivateBody)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorResponse{Error: "run: " + err.Error()})
		return
	}
	o := req.OneOff
	if err := app.ValidName(o.App); err != nil || o.Image == "" || o.Command == "" {
		writeJSON(w, http.StatusBadRequest, errorResponse{Error: fmt.Sprintf("run: not a one-off: app %q", o.App)})
		return
	}
	w.Header().Set("Trailer", trailerExit+", "+trailerError)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	o.Out = flushWriter{w}
	peer, _ := pki.PeerName(r.TLS)
	code, err := c.cfg.RunOnce(r.Context(), o)
	c.log.Info("ran a one-off for another machine", "app", o.App, "for", peer, "exit", code, "err", err)
	if err != nil {
		w.Header().Set(trailerError, strconv.Quote(err.Error()))
		return
	}
	w.Header().Set(trailerExit, strconv.Itoa(code))
}

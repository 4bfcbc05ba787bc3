package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"pier/app"
)

// pathActivate starts a release on the machine asked, health-gated, and
// records it once healthy: a push or a rollback on one machine of an app
// that runs on another.
const pathActivate = "/cluster/v1/activate"

// maxActivateBody bounds an activation request: a release, its config and
// manifest included.
const maxActivateBody = 1 << 20

// trailerError carries an activation's error after its output.
const trailerError = "Pier-Error"

type activateRequest struct {
	Release app.Release `json:"release"`
}

// ActivateOn makes rel its app's running release on machine node, as a
// deploy there would (see Config.Activate), streaming node's progress
// lines to out, and returns node's error, if any. It returns once node
// recorded the release, or refused it.
func (c *Cluster) ActivateOn(ctx context.Context, node string, rel app.Release, out io.Writer) error {
	body, err := json.Marshal(activateRequest{Release: rel})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+node+pathActivate, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client().Do(req)
	if err != nil {
		return fmt.Errorf("start v%d on %s: %w", rel.Version, node, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return fmt.Errorf("start v%d on %s: %s %s", rel.Version, node, resp.Status, e.Error)
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("start v%d on %s: the connection broke: %w (ps:report %s there says what runs)", rel.Version, node, err, rel.App)
	}
	if msg := trailerMessage(resp); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// serveActivate runs an activation another machine asks for, once this
// machine's store caught up with the change that asked (the app may be new).
func (c *Cluster) serveActivate(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Activate == nil {
		writeJSON(w, http.StatusNotImplemented, errorResponse{Error: "this machine starts no releases for others"})
		return
	}
	var req activateRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActivateBody)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorResponse{Error: "activation: " + err.Error()})
		return
	}
	if err := app.ValidName(req.Release.App); err != nil || req.Release.Version < 1 || req.Release.Image == "" {
		writeJSON(w, http.StatusBadRequest, errorResponse{Error: fmt.Sprintf("activation: not a release: app %q v%d", req.Release.App, req.Release.Version)})
		return
	}
	if err := c.CatchUp(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorResponse{Error: "activation: " + err.Error()})
		return
	}
	w.Header().Set("Trailer", trailerError)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	err := c.cfg.Activate(r.Context(), req.Release, flushWriter{w})
	if err != nil {
		w.Header().Set(trailerError, strconv.Quote(err.Error()))
	}
}

// flushWriter sends every write at once: progress lines as they come.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// trailerMessage is the error a response's trailer carries, quoted (it
// may span lines); "" if none.
func trailerMessage(resp *http.Response) string {
	msg := resp.Trailer.Get(trailerError)
	if u, err := strconv.Unquote(msg); err == nil {
		return u
	}
	return msg
}

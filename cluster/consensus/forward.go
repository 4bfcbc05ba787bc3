package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/hashicorp/raft"

	"pier/app"
)

// Forwarder sends a change made on a follower to the leader, which
// appends it to the log (its ForwardHandler). The integrator implements it
// over the cluster's mutual-TLS HTTP, or uses HTTPForwarder with a client
// that presents this machine's certificate.
type Forwarder interface {
	// Forward hands the leader an encoded change (app.EncodeChange) and
	// returns the log index it was committed at. Its error wraps
	// app.ErrExists or app.ErrNotFound when the leader's store refused
	// the change, and ErrNotLeader when the change certainly was not
	// appended and may be sent again: leader no longer leads, or could
	// not be reached at all (it may have just stopped).
	Forward(ctx context.Context, leader Server, entry []byte) (index uint64, err error)
}

// ForwardPath is where the integrator is expected to mount ForwardHandler
// on the cluster's internal HTTP listener.
const ForwardPath = "/cluster/v1/apply"

// MaxEntrySize bounds a forwarded change (a release with a large app.json
// and config is a few KiB).
const MaxEntrySize = 1 << 20

// forwardResult is ForwardHandler's answer, JSON.
type forwardResult struct {
	Index uint64 `json:"index,omitempty"`
	Error string `json:"error,omitempty"`
	// Refused names the sentinel the error wraps: "exists", "not found",
	// "not leader"; empty for any other error.
	Refused string `json:"refused,omitempty"`
}

// refusals are the sentinels a forwarded change's error keeps, by name,
// with the status the handler answers.
var refusals = []struct {
	name     string
	sentinel error
	status   int
}{
	{"exists", app.ErrExists, http.StatusConflict},
	{"not found", app.ErrNotFound, http.StatusNotFound},
	{"not leader", ErrNotLeader, http.StatusMisdirectedRequest},
}

// ForwardHandler is the leader's side of forwarding: it appends a POSTed
// change (at most MaxEntrySize bytes, as app.EncodeChange writes it) to the
// log and answers once the leader's store applied it, with the log index,
// or with the error and the sentinel it wraps. A machine that does not
// lead answers 421 (Misdirected Request) with "not leader". Whoever
// reaches the handler changes the cluster's desired state: mount it only
// behind mutual TLS among the cluster's machines.
func (c *Consensus) ForwardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeResult(w, http.StatusMethodNotAllowed, forwardResult{Error: "POST a change"})
			return
		}
		entry, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEntrySize))
		if err != nil {
			status := http.StatusBadRequest
			if errors.As(err, new(*http.MaxBytesError)) {
				status = http.StatusRequestEntityTooLarge
			}
			writeResult(w, status, forwardResult{Error: "read change: " + err.Error()})
			return
		}
		if _, err := app.DecodeChange(entry); err != nil {
			writeResult(w, http.StatusBadRequest, forwardResult{Error: err.Error()})
			return
		}
		if c.raft.State() != raft.Leader {
			writeResult(w, http.StatusMisdirectedRequest, forwardResult{Error: ErrNotLeader.Error(), Refused: "not leader"})
			return
		}
		index, err := c.applyLocal(r.Context(), entry)
		res, status := forwardResult{Index: index}, http.StatusOK
		if err != nil {
			res.Error, status = err.Error(), http.StatusInternalServerError
			for _, r := range refusals {
				if errors.Is(err, r.sentinel) {
					res.Refused, status = r.name, r.status
					break
				}
			}
		}
		writeResult(w, status, res)
	})
}

func writeResult(w http.ResponseWriter, status int, res forwardResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(res)
}

// HTTPForwarder forwards changes to the leader's ForwardHandler over HTTP.
type HTTPForwarder struct {
	// Client sends the requests: for the cluster, one whose transport
	// presents this machine's certificate and verifies the leader's. Nil
	// means http.DefaultClient.
	Client *http.Client
	// URL is the address of leader's ForwardHandler, such as
	// "https://10.0.0.2:7946" + ForwardPath. Required.
	URL func(leader Server) string
}

var _ Forwarder = (*HTTPForwarder)(nil)

// Forward POSTs entry to the leader's ForwardHandler.
func (h *HTTPForwarder) Forward(ctx context.Context, leader Server, entry []byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL(leader), bytes.NewReader(entry))
	if err != nil {
		return 0, fmt.Errorf("forward to %s: %w", leader.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, fmt.Errorf("forward to %s: %w (%w)", leader.ID, ErrNotLeader, err)
		}
		return 0, fmt.Errorf("forward to %s: %w", leader.ID, err)
	}
	defer resp.Body.Close()
	var res forwardResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&res); err != nil {
		return 0, fmt.Errorf("forward to %s: %s", leader.ID, resp.Status)
	}
	if resp.StatusCode == http.StatusOK && res.Error == "" {
		return res.Index, nil
	}
	for _, r := range refusals {
		if res.Refused == r.name {
			return 0, &refusedError{msg: res.Error, sentinel: r.sentinel}
		}
	}
	return 0, fmt.Errorf("forward to %s: %s: %s", leader.ID, resp.Status, res.Error)
}

// refusedError is the leader's error for a refused change, with the
// leader's words and the sentinel they wrapped there.
type refusedError struct {
	msg      string
	sentinel error
}

func (e *refusedError) Error() string { return e.msg }
func (e *refusedError) Unwrap() error { return e.sentinel }

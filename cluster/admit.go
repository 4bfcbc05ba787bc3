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
	"time"

	"pier/cluster/consensus"
	"pier/cluster/pki"
)

// serveAdmit adds a certified machine to the log (or removes it), on the
// leader; a follower passes the request to the leader.
func (c *Cluster) serveAdmit(m *member, w http.ResponseWriter, r *http.Request, remove bool) {
	var req admitRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorResponse{fmt.Sprintf("bad request: %v", err)})
		return
	}
	// A machine asks for itself; a follower passes on a joiner's request.
	peer, _ := pki.PeerName(r.TLS)
	if peer != req.Name && !m.isMember(peer) {
		writeJSON(w, http.StatusForbidden, errorResponse{fmt.Sprintf("%s may add or remove only itself, not %s", peer, req.Name)})
		return
	}
	index, err := c.admit(r.Context(), m, req, remove)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorResponse{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, admitResponse{Index: index})
}

// errNoLeader: an election is under way.
var errNoLeader = errors.New("the cluster has no leader")

// isMember reports whether the machine name is in the log's configuration.
func (m *member) isMember(name string) bool {
	servers, err := m.raft.Servers()
	return err == nil && slices.ContainsFunc(servers, func(s consensus.Server) bool { return s.ID == name })
}

// admit adds or removes a machine on the leader, wherever it is, trying
// again while an election is under way.
func (c *Cluster) admit(ctx context.Context, m *member, req admitRequest, remove bool) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var err error
		if m.raft.Leading() {
			switch {
			case remove:
				err = m.raft.Leave(ctx, req.Name)
			case req.Role == pki.RoleWorker:
				err = m.raft.AddNonvoter(ctx, req.Name, req.Addr)
			default:
				_, err = m.raft.Join(ctx, req.Name, req.Addr)
			}
			if err == nil {
				st, _ := m.raft.Stats(ctx)
				return st.LastIndex, nil
			}
		} else if leader, ok := m.raft.Leader(); ok {
			path := pathAdmit
			if remove {
				path = pathRemove
			}
			var resp admitResponse
			if err = post(ctx, m.client, "https://"+leader.Addr+path, req, &resp); err == nil {
				return resp.Index, nil
			}
		} else {
			err = errNoLeader
		}
		if !errors.Is(err, consensus.ErrNotLeader) && !errors.Is(err, errNoLeader) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %w", err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// post sends v as JSON and decodes the answer into out, or the error it
// carries.
func post(ctx context.Context, client *http.Client, u string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.Unmarshal(b, out)
}

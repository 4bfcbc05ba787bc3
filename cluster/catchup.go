package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// pathTaken answers the index of the last change the machine's store
// took.
const pathTaken = "/cluster/v1/taken"

// catchUpTimeout bounds CatchUp: what it waits for was committed already.
const catchUpTimeout = 3 * time.Second

type takenResponse struct {
	Index uint64 `json:"index"`
}

// CatchUp returns once this machine's store holds every change the
// leader's held when it was asked: a read that must see a change made on
// another machine a moment ago (the answer to an ACME challenge, which
// the CA checks as soon as the machine that asked for the certificate
// stored it) calls it first. Callers at once share one question to the
// leader. On the leader, and on a machine in no cluster, it returns at
// once.
func (c *Cluster) CatchUp(ctx context.Context) error {
	c.mu.RLock()
	m := c.on
	c.mu.RUnlock()
	if m == nil || m.raft.Leading() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	ch := c.catchUp.DoChan("", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
		defer cancel()
		leader, ok := m.raft.Leader()
		if !ok {
			return nil, errNoLeader
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+leader.ID+pathTaken, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Client().Do(req)
		if err != nil {
			return nil, fmt.Errorf("ask the leader how far its log went: %w", err)
		}
		defer resp.Body.Close()
		var t takenResponse
		if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&t); err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("ask the leader how far its log went: %s %v", resp.Status, err)
		}
		return nil, m.raft.WaitTaken(ctx, t.Index)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// serveTaken answers how far this machine's store took the log.
func serveTaken(m *member) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"index":%s}`, strconv.FormatUint(m.raft.Taken(), 10))
	})
}

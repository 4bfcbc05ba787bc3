package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"pier/app"
	"pier/cluster/pki"
)

// ClusterStatus reports the control plane as this machine sees it
// (pier cluster:status); Enabled is false on a machine in no cluster.
func (c *Cluster) ClusterStatus(ctx context.Context) (app.ClusterStatus, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.on == nil {
		return app.ClusterStatus{}, nil
	}
	return c.status(ctx, c.on)
}

func (c *Cluster) status(ctx context.Context, m *member) (app.ClusterStatus, error) {
	st, err := m.raft.Stats(ctx)
	if err != nil {
		return app.ClusterStatus{}, err
	}
	out := app.ClusterStatus{
		Enabled: true, Name: st.ID, State: st.State, Leader: st.Leader.ID, Term: st.Term,
		AppliedIndex: st.LogApplied, CommitIndex: st.CommitIndex, LastContact: st.LastContact,
	}
	for _, s := range st.Servers {
		if s.Voter {
			out.Voters = append(out.Voters, s.ID)
		} else {
			out.NonVoters = append(out.NonVoters, s.ID)
		}
	}
	return out, nil
}

// Nodes lists the cluster's machines (pier nodes:list); in no cluster,
// none.
func (c *Cluster) Nodes(ctx context.Context) ([]app.Member, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := c.on
	if m == nil {
		return nil, nil
	}
	servers, err := m.raft.Servers()
	if err != nil {
		return nil, err
	}
	leader, _ := m.raft.Leader()
	var out []app.Member
	for _, s := range servers {
		mb := app.Member{Name: s.ID, Address: s.Addr, Role: "non-voter", State: "unknown",
			Leader: s.ID == leader.ID, Self: s.ID == m.id.Name}
		if s.Voter {
			mb.Role = "voter"
		}
		if g, ok := m.gossip.Member(s.ID); ok {
			mb.State, mb.Seen = g.State, g.Seen
			mb.Arch, mb.CPUs, mb.Load1, mb.Instances = g.Load.Arch, g.Load.CPUs, g.Load.Load1, g.Load.Instances
			mb.MemAvail, mb.MemTotal, mb.DiskAvail = g.Load.MemAvail, g.Load.MemTotal, g.Load.DiskAvail
			if g.Load.Role == string(pki.RoleWorker) && !s.Voter {
				mb.Role = "worker"
			}
		}
		out = append(out, mb)
	}
	slices.SortFunc(out, func(a, b app.Member) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// ClusterLeave takes this machine out of its cluster (pier
// cluster:leave): the leader removes it from the log, its part stops, its
// identity is deleted, and its store is emptied, for the desired state
// was the cluster's. The last machine of a cluster keeps the state and
// goes on alone.
func (c *Cluster) ClusterLeave(ctx context.Context, out io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.on
	if m == nil {
		return errors.New("this machine is not in a cluster")
	}
	servers, err := m.raft.Servers()
	if err != nil {
		return err
	}
	alone := len(servers) == 1 && servers[0].ID == m.id.Name
	if !alone {
		apps, err := c.cfg.Store.Apps(ctx)
		if err != nil {
			return err
		}
		var here []string
		for _, a := range apps {
			if slices.Contains(a.Placement, m.id.Name) {
				here = append(here, a.Name)
			}
		}
		if len(here) > 0 {
			return fmt.Errorf("this machine runs %s: move them first, by pushing each to another machine's SSH "+
				"(it is built and runs there), then cluster:leave again", strings.Join(here, ", "))
		}
		m.gossip.Leave(2 * time.Second)
		io.WriteString(out, "-----> Asking the leader to remove this machine from the log\n")
		req := admitRequest{Name: m.id.Name, Addr: m.id.Addr, Role: m.id.Role}
		if _, err := c.admit(ctx, m, req, true); err != nil {
			return err
		}
	}
	m.stop()
	c.on = nil
	if err := removeIdentity(c.cfg.Dir); err != nil {
		return err
	}
	if alone {
		io.WriteString(out, "-----> This machine was the cluster's last: it goes on alone with its apps\n")
		return nil
	}
	io.WriteString(out, "-----> Stopping the cluster's apps on this machine\n")
	return c.cfg.Store.Reset(ctx)
}

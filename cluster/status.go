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
			mb.Labels = g.Load.Labels
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

// moveAway places the apps that run on m elsewhere and waits until this
// machine serves none of them: the others serve them by then (see
// node.Actuator's hand-over).
func (c *Cluster) moveAway(ctx context.Context, m *member, out io.Writer) error {
	apps, err := c.cfg.Store.Apps(ctx)
	if err != nil {
		return err
	}
	var moved []string
	for _, a := range apps {
		if !slices.Contains(a.Placement, m.id.Name) {
			continue
		}
		rest := slices.DeleteFunc(slices.Clone(a.Placement), func(n string) bool { return n == m.id.Name })
		if len(rest) == 0 {
			rel, err := c.cfg.Store.Release(ctx, a.Name, a.Release)
			if err != nil {
				return err
			}
			if rest = place(m, a, rel, map[string]int{"web": 1}, m.id.Name); len(rest) == 0 {
				return fmt.Errorf("no other machine can run %s (alive, %s, with room for its memory limit): "+
					"add one, or destroy %s, then cluster:leave again", a.Name, "the same architecture", a.Name)
			}
		}
		fmt.Fprintf(out, "-----> Moving %s to %s\n", a.Name, strings.Join(rest, ", "))
		if err := m.store.Apply(ctx, app.SetPlacement{App: a.Name, Nodes: rest}); err != nil {
			return fmt.Errorf("move %s: %w", a.Name, err)
		}
		moved = append(moved, a.Name)
	}
	if len(moved) == 0 || c.cfg.Serving == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, name := range moved {
		for c.cfg.Serving(name) > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s is still served here, the machines it moved to do not serve it yet: "+
					"see their logs, then cluster:leave again", name)
			case <-time.After(200 * time.Millisecond):
			}
		}
		fmt.Fprintf(out, "-----> %s is served by the others\n", name)
	}
	return nil
}

// ClusterLeave takes this machine out of its cluster (pier
// cluster:leave): the leader removes it from the log, its part stops, its
// identity is deleted, and its store is emptied, for the desired state
// was the cluster's. The last machine of a cluster keeps the state and
// goes on alone.
func (c *Cluster) ClusterLeave(ctx context.Context, out io.Writer) error {
	c.leaving.Lock()
	defer c.leaving.Unlock()
	c.mu.RLock()
	m := c.on
	c.mu.RUnlock()
	if m == nil {
		return errors.New("this machine is not in a cluster")
	}
	servers, err := m.raft.Servers()
	if err != nil {
		return err
	}
	alone := len(servers) == 1 && servers[0].ID == m.id.Name
	// The apps move while this machine is still in the cluster and its
	// parts go on as usual: they serve until the others do.
	if !alone {
		if err := c.moveAway(ctx, m, out); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on != m {
		return errors.New("this machine left or joined a cluster meanwhile: pier cluster:status shows it")
	}
	if !alone {
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

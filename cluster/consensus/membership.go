package consensus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// MaxVoters is how many machines vote at most; the rest receive the log
// as non-voters. Three voters survive the loss of one; more would make
// every commit wait on more small machines for little gain.
const MaxVoters = 3

// Servers lists the cluster's members as this machine's log last
// recorded them.
func (c *Consensus) Servers() ([]Server, error) {
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("read cluster configuration: %w", err)
	}
	var ss []Server
	for _, s := range f.Configuration().Servers {
		ss = append(ss, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return ss, nil
}

// AddVoter adds the machine id at its raft address addr as a voter, or
// makes a non-voter member one. Only the leader may (ErrNotLeader).
func (c *Consensus) AddVoter(ctx context.Context, id, addr string) error {
	return c.change(ctx, "add voter "+id, c.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, c.applyTimeout))
}

// AddNonvoter adds the machine id at addr as a non-voter: it receives the
// log but neither votes nor counts for commits. Only the leader may.
func (c *Consensus) AddNonvoter(ctx context.Context, id, addr string) error {
	return c.change(ctx, "add non-voter "+id, c.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, c.applyTimeout))
}

// RemoveServer removes the machine id from the cluster; removed, a machine
// stops its raft. Removing the leader itself makes the others elect a new
// one. Only the leader may.
func (c *Consensus) RemoveServer(ctx context.Context, id string) error {
	return c.change(ctx, "remove "+id, c.raft.RemoveServer(raft.ServerID(id), 0, c.applyTimeout))
}

func (c *Consensus) demote(ctx context.Context, id string) error {
	return c.change(ctx, "demote "+id, c.raft.DemoteVoter(raft.ServerID(id), 0, c.applyTimeout))
}

// change waits for a membership change to commit, or ctx to end.
func (c *Consensus) change(ctx context.Context, what string, f raft.Future) error {
	if err := wait(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			err = ErrNotLeader
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// wait returns f's error once it resolves, or ctx's when ctx ends first.
func wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Join adds the machine id at addr under the voter policy: up to
// MaxVoters voters, the rest non-voters, except that a cluster of two
// keeps one voter (two voters cannot lose either, one voter can lose the
// other machine). Members are then promoted or demoted to match. Joining
// again with the same address only applies the policy. It reports
// whether id votes. Only the leader may.
func (c *Consensus) Join(ctx context.Context, id, addr string) (voter bool, err error) {
	ss, err := c.Servers()
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(ss, func(s Server) bool { return s.ID == id })
	if i < 0 || ss[i].Addr != addr {
		if i >= 0 {
			ss = slices.Delete(ss, i, i+1)
		}
		if voter = votersWanted(len(ss)+1) > voters(ss); voter {
			err = c.AddVoter(ctx, id, addr)
		} else {
			err = c.AddNonvoter(ctx, id, addr)
		}
		if err != nil {
			return false, err
		}
	}
	if err := c.Rebalance(ctx); err != nil {
		return false, err
	}
	ss, err = c.Servers()
	if err != nil {
		return false, err
	}
	i = slices.IndexFunc(ss, func(s Server) bool { return s.ID == id })
	return i >= 0 && ss[i].Voter, nil
}

// Leave removes the machine id and applies the voter policy to those
// that stay, promoting a non-voter in place of a voter that left. Only the
// leader may.
func (c *Consensus) Leave(ctx context.Context, id string) error {
	if err := c.RemoveServer(ctx, id); err != nil {
		return err
	}
	if id == c.id {
		return nil // the others' new leader applies the policy when a machine next joins or leaves
	}
	return c.Rebalance(ctx)
}

// Rebalance promotes and demotes members until they match the voter
// policy (see Join). The leader is never demoted. Only the leader may.
func (c *Consensus) Rebalance(ctx context.Context) error {
	ss, err := c.Servers()
	if err != nil {
		return err
	}
	promote, demote := rebalance(ss, c.id, c.mayVote)
	for _, s := range promote {
		if err := c.AddVoter(ctx, s.ID, s.Addr); err != nil {
			return err
		}
	}
	for _, s := range demote {
		if err := c.demote(ctx, s.ID); err != nil {
			return err
		}
	}
	return nil
}

// votersWanted is how many of n machines vote.
func votersWanted(n int) int {
	if n <= 2 {
		return min(n, 1)
	}
	return min(n, MaxVoters)
}

func voters(ss []Server) int {
	n := 0
	for _, s := range ss {
		if s.Voter {
			n++
		}
	}
	return n
}

// rebalance says which members to promote and demote for the voter
// policy, in the order of their IDs, never demoting leader. Only members
// mayVote allows are promoted, and only they count for how many vote;
// those it refuses are demoted.
func rebalance(ss []Server, leader string, mayVote func(id string) bool) (promote, demote []Server) {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b Server) int { return strings.Compare(a.ID, b.ID) })
	eligible := 0
	for _, s := range ss {
		if mayVote(s.ID) {
			eligible++
		}
	}
	have, want := voters(ss), votersWanted(eligible)
	// Those that may not vote go first, then the count is matched.
	for _, s := range ss {
		if s.Voter && !mayVote(s.ID) && s.ID != leader {
			demote = append(demote, s)
			have--
		}
	}
	for _, s := range ss {
		switch {
		case !mayVote(s.ID):
		case have < want && !s.Voter:
			promote = append(promote, s)
			have++
		case have > want && s.Voter && s.ID != leader:
			demote = append(demote, s)
			have--
		}
	}
	return promote, demote
}

package members

import (
	"maps"
	"time"

	"github.com/hashicorp/memberlist"
)

// member is this machine's record of one member.
type member struct {
	Member
	bad bool // its metadata did not decode; logged when it first did not
}

// delegate is what memberlist calls: for this machine's metadata
// (memberlist.Delegate), on joins, updates and departures
// (memberlist.EventDelegate), and on answered probes
// (memberlist.PingDelegate). memberlist holds its node lock through the
// events, so they take only mu and never block.
type delegate struct{ m *Members }

var (
	_ memberlist.Delegate      = delegate{}
	_ memberlist.EventDelegate = delegate{}
	_ memberlist.PingDelegate  = delegate{}
)

func (d delegate) NodeMeta(limit int) []byte {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if len(d.m.meta) > limit {
		return nil // cannot happen: encodeMeta keeps to memberlist.MetaMaxSize
	}
	return d.m.meta
}

// No messages of its own, no state beyond memberlist's.
func (delegate) NotifyMsg([]byte)                  {}
func (delegate) GetBroadcasts(int, int) [][]byte   { return nil }
func (delegate) LocalState(bool) []byte            { return nil }
func (delegate) MergeRemoteState([]byte, bool)     {}
func (delegate) AckPayload() []byte                { return nil }
func (d delegate) NotifyJoin(n *memberlist.Node)   { d.m.observe(n, Alive) }
func (d delegate) NotifyUpdate(n *memberlist.Node) { d.m.observe(n, Alive) }
func (d delegate) NotifyLeave(n *memberlist.Node)  { d.m.observe(n, Failed) }

func (d delegate) NotifyPingComplete(n *memberlist.Node, _ time.Duration, _ []byte) {
	d.m.heard(n.Name)
}

// observe records what memberlist reports of n: Alive for a join or an
// update, Failed for a departure; either is Left if n's metadata carries
// the leaving mark, or already did.
func (m *Members) observe(n *memberlist.Node, state string) {
	load, leaving, err := decodeMeta(n.Meta)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, known := m.members[n.Name]
	if !known {
		r = &member{Member: Member{Name: n.Name}}
		m.members[n.Name] = r
	}
	if err != nil && !r.bad {
		m.log.Warn("a member's load is malformed; it shows as none", "member", n.Name, "err", err)
	}
	r.bad = err != nil
	if leaving || state == Failed && r.State == Left {
		state = Left
	}
	if state != Failed {
		r.Seen = now // heard from it: it joined, updated or announced its departure
	}
	old := r.Member
	r.Gossip, r.Load, r.State = n.Address(), load, state
	if known && old.State == r.State && sameLoad(old.Load, r.Load) && old.Gossip == r.Gossip {
		return
	}
	if n.Name != m.name && old.State != r.State {
		switch {
		case r.State == Failed:
			m.log.Warn("member failed", "member", n.Name, "gossip", r.Gossip)
		case r.State == Left:
			m.log.Info("member left", "member", n.Name, "gossip", r.Gossip)
		case old.State != Suspect:
			m.log.Info("member joined", "member", n.Name, "gossip", r.Gossip, "addr", r.Load.Addr)
		}
	}
	m.notify()
}

// heard records that name answered this machine's probe.
func (m *Members) heard(name string) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.members[name]
	if !ok {
		return
	}
	r.Seen = now
	if r.State == Suspect {
		r.State = Alive
		m.log.Debug("member answers again", "member", name)
		m.notify()
	}
}

// sweep marks suspect the alive members this machine has not heard from
// in about two rounds of probing, and forgets failed and left ones not
// seen for forgetAfter. health is memberlist's health score: probing
// slows by a factor of health+1.
func (m *Members) sweep(health int) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	peers := 0
	for _, r := range m.members {
		if r.Name != m.name && (r.State == Alive || r.State == Suspect) {
			peers++
		}
	}
	quiet := time.Duration(2*peers+1) * probeInterval * time.Duration(health+1)
	changed := false
	for name, r := range m.members {
		switch {
		case name == m.name:
		case r.State == Alive && now.Sub(r.Seen) > quiet:
			r.State = Suspect
			m.log.Debug("member suspect: no answer to probes", "member", name, "seen", r.Seen)
			changed = true
		case (r.State == Failed || r.State == Left) && now.Sub(r.Seen) > forgetAfter:
			delete(m.members, name)
			changed = true
		}
	}
	if changed {
		m.notify()
	}
}

// notify signals every Changes channel without blocking. Called with mu
// held.
func (m *Members) notify() {
	for _, c := range m.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// sameLoad reports whether two loads are equal, labels included.
func sameLoad(a, b Load) bool {
	return a.Addr == b.Addr && a.Role == b.Role && a.Arch == b.Arch && a.CPUs == b.CPUs &&
		a.MemAvail == b.MemAvail && a.MemTotal == b.MemTotal && a.DiskAvail == b.DiskAvail &&
		a.Load1 == b.Load1 && a.Instances == b.Instances && maps.Equal(a.Labels, b.Labels)
}

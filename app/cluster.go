package app

import "time"

// JoinToken is what the cluster keeps of a one-time join token
// (pier cluster:token): never the secret, only its SHA-256.
type JoinToken struct {
	ID         string
	SecretHash []byte
	Role       string // "server" or "worker"
	Expires    time.Time
	Used       bool
}

// AddJoinToken records a join token. ErrExists if its ID is taken.
type AddJoinToken struct{ Token JoinToken }

// UseJoinToken marks a join token used, once: ErrNotFound if there is no
// such token, ErrExists if it was used already. Recorded through the log,
// so two nodes joining with one token at once cannot both succeed.
type UseJoinToken struct{ ID string }

// SetPlacement replaces the machines of the cluster that run an app (see
// App.Placement).
type SetPlacement struct {
	App   string
	Nodes []string
}

// RestartApp counts one restart of an app (ps:restart): every machine
// that runs it replaces, with zero downtime, the instances it started
// before.
type RestartApp struct{ App string }

func (SetPlacement) isChange() {}
func (RestartApp) isChange()   {}
func (AddJoinToken) isChange() {}
func (UseJoinToken) isChange() {}

// Member is one machine of the cluster as nodes:list shows it: its place in
// the control plane (from the replicated log's configuration) and its load
// (as it last gossiped it).
type Member struct {
	Name    string // the machine's name in the cluster, for all time
	Address string // its cluster address, host:port
	// Role is "voter" or "non-voter" for a machine in the control plane,
	// "worker" for one that only runs apps.
	Role string
	// State is "alive", "suspect", "failed" or "left", as gossip last saw
	// it; "unknown" before it was heard from.
	State  string
	Leader bool // it leads the cluster
	Self   bool // it is the machine answering
	Arch   string
	// Memory in bytes: available and total; disk available under pier's
	// data directory.
	MemAvail, MemTotal, DiskAvail int64
	CPUs                          int
	Load1                         float64 // 1-minute load average
	Instances                     int     // app processes running there
	Labels                        map[string]string
	Seen                          time.Time
}

// ClusterStatus is the control plane as one machine sees it
// (cluster:status).
type ClusterStatus struct {
	// Enabled is false on a machine that never ran cluster:init or
	// cluster:join; the rest is then empty.
	Enabled bool
	Name    string // this machine's name
	State   string // its raft state: Leader, Follower, Candidate, Shutdown
	Leader  string // the leader's name, "" during an election
	Voters  []string
	// NonVoters receive the log without voting.
	NonVoters []string
	Term      uint64
	// AppliedIndex is the last change this machine's store applied,
	// CommitIndex the last one the cluster committed as far as it knows.
	AppliedIndex, CommitIndex uint64
	// LastContact is when this machine last heard from the leader; zero
	// on the leader.
	LastContact time.Time
}

// Package cluster makes this machine one of several that share one pier:
// it founds a cluster (cluster:init), admits machines with one-time
// tokens (cluster:token, cluster:join), lets them go (cluster:leave), and
// serves the cluster's own port, where every connection is TLS: joiners
// reach the join endpoint with the CA pinned by their token, and machines
// of the cluster talk raft and forward changes to the leader with mutual
// TLS, told apart by ALPN.
//
// Until this machine is in a cluster nothing here listens or runs: Apply
// writes straight to this machine's store, as a single-machine pier
// always did. Once it is, Apply goes through the replicated log
// (package consensus), and the store becomes the log's state machine.
//
// What a machine keeps of its cluster lives in one directory (Config.Dir):
//
//	node.json   this machine's name, role and addresses
//	ca.crt      the cluster CA's certificate
//	ca.key      its private key, on servers only (they admit machines)
//	node.crt    this machine's certificate, signed by the CA
//	node.key    its private key
//	gossip.key  the key that encrypts gossip
//	raft/       the replicated log and its snapshots
package cluster

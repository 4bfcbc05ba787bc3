// Package pki is the cluster's trust: its certificate authority, the node
// certificates the authority signs, the one-time join tokens, and the TLS
// configurations nodes talk to each other with. It imports nothing of pier
// and keeps no state: what must be stored (the CA, a node's key and
// certificate, the token records) is handed to the caller as bytes or plain
// structs.
//
// # A join, end to end
//
//  1. pier cluster:init makes the CA (NewCA) and this node's key and
//     certificate (NewNodeKey, CSR, CA.Sign, NodeCertificate).
//  2. pier cluster:token makes a token (NewToken). The string goes to the
//     user; the TokenRecord goes to the cluster's replicated state. The
//     secret itself is never stored, only its SHA-256.
//  3. pier cluster:join reads the token (ParseToken) and dials the server
//     with PinnedTLS(tok.Pin). The handshake completes only if the server
//     presents a chain whose CA matches the pin and whose leaf that CA
//     signed, so the first request is already authenticated: there is no
//     trust on first use. The joiner sends the token and a CSR (NewNodeKey,
//     CSR).
//  4. The server finds the record by tok.ID, calls TokenRecord.Check, marks
//     the record used, signs the CSR (CA.Sign) and answers with the node
//     certificate and the CA certificate. The joiner checks that CA against
//     the pin (CheckPin) before it stores anything.
//  5. From then on every node-to-node connection is mutual TLS: ServerTLS on
//     the listener, ClientTLS to dial, PeerName in every handler that serves
//     only nodes.
//
// # One listener, two kinds of endpoint
//
// ServerTLS asks every client for a certificate but does not insist
// (tls.VerifyClientCertIfGiven): a certificate that is offered must chain to
// the cluster CA or the handshake fails, and a client that offers none (a
// joiner, which has no certificate yet) gets through the handshake
// unauthenticated. The join endpoint serves such clients; every other
// endpoint must call PeerName on the connection state (http.Request.TLS) and
// refuse the request when it returns an error. An endpoint that forgets the
// check is open to anyone who can reach the port, so route the join endpoint
// explicitly and put the check in front of everything else.
//
// # What to store
//
// pki writes no files. What a node keeps, in a directory only pier can
// enter (0700), each file written whole (temporary file, fsync, rename):
//
//	ca.crt    CA.CertPEM           every node           0644
//	ca.key    CA.KeyPEM            servers that sign    0600
//	node.crt  what CA.Sign returned                     0644
//	node.key  EncodeKeyPEM         never leaves it      0600
//
// The cluster's replicated state keeps the TokenRecords; no token is
// stored anywhere.
//
// # What a name proves, and what it does not
//
// A node certificate proves a name (PeerName) and nothing more: it carries
// no role, and there is no revocation list. So the caller must:
//
//   - refuse a join whose name is already a member's, or the joiner gets a
//     certificate that speaks for that member;
//   - decide what a peer may do from the membership, looked up by the name,
//     so that a node removed from the cluster is refused although its
//     certificate still verifies until it expires.
//
// # Clocks
//
// Certificates are valid from an hour before they are made, so that a node
// whose clock is a little behind (a Raspberry Pi has no real-time clock and
// keeps the time it saved at shutdown until NTP answers) still accepts them.
// Token expiry is decided by the server that checks the token, on its own
// clock. A joiner whose clock is so far behind that the server's
// certificate is not yet valid is told to correct it, not that the server is
// the wrong one.
package pki

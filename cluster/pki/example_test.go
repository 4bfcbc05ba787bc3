package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"

	"pier/cluster/pki"
)

// One listener serves joiners, who have no certificate yet, and nodes,
// who must present one: the join endpoint is routed by itself, and
// everything else goes through PeerName first.
func ExampleServerTLS() {
	var (
		nodeCert tls.Certificate // from pki.NodeCertificate
		caPool   *x509.CertPool  // from CA.CertPool, or a pool of the stored CA certificate
		join     http.Handler    // checks the token, signs the CSR
		nodes    http.ServeMux   // raft, membership, ...
	)
	mux := http.NewServeMux()
	mux.Handle("POST /cluster/join", join)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := pki.PeerName(r.TLS); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		nodes.ServeHTTP(w, r)
	}))
	srv := &http.Server{Addr: ":7946", Handler: mux, TLSConfig: pki.ServerTLS(nodeCert, caPool)}
	_ = srv.ListenAndServeTLS("", "") // the certificate is in TLSConfig
}

// A joiner's first connection trusts the pin in its token, and nothing
// else.
func ExamplePinnedTLS() {
	tok, err := pki.ParseToken("PIER1.<pin>.<id>.<secret>") // as the user gave it
	if err != nil {
		return // err says what is wrong with the token
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.PinnedTLS(tok.Pin)}}
	// A server that cannot prove it holds the pinned CA fails the handshake
	// with an error wrapping pki.ErrPinMismatch; nothing is sent to it.
	_, _ = c.Post("https://pi1:7946/cluster/join", "application/json", nil)
}

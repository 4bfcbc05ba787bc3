package pki_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"pier/cluster/pki"
)

// The join as cluster:join and a server's join endpoint would speak it,
// built from nothing but this package, to show the pieces fit.

type joinRequest struct {
	Token string `json:"token"`
	Name  string `json:"name"`
	CSR   []byte `json:"csr"`
}

type joinResponse struct {
	Cert []byte `json:"cert"` // PEM
	CA   []byte `json:"ca"`   // PEM
}

// joinServer is a join endpoint; its map stands in for the token records
// of the replicated state, its mutex for the state machine's one-at-a-time
// apply.
type joinServer struct {
	ca      *pki.CA
	mu      sync.Mutex
	records map[string]pki.TokenRecord
}

func (s *joinServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tok, err := pki.ParseToken(req.Token)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	rec, ok := s.records[tok.ID]
	if !ok {
		err = pki.ErrTokenUnknown
	} else if err = rec.Check(tok, time.Now()); err == nil {
		rec.Used = true
		s.records[tok.ID] = rec
	}
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	cert, err := s.ca.Sign(req.CSR, req.Name, []net.IP{loopback}, 24*time.Hour, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	json.NewEncoder(w).Encode(joinResponse{Cert: cert, CA: s.ca.CertPEM()})
}

// startServer runs node pi1 of a cluster of ca, serving the join endpoint
// and /whoami, which is for nodes only.
func startServer(t *testing.T, ca *pki.CA) (string, *joinServer) {
	t.Helper()
	js := &joinServer{ca: ca, records: map[string]pki.TokenRecord{}}
	mux := http.NewServeMux()
	mux.Handle("POST /join", js)
	mux.Handle("GET /whoami", nodesOnly(func(w http.ResponseWriter, r *http.Request, peer string) {
		io.WriteString(w, peer)
	}))
	return serve(t, pki.ServerTLS(newNode(t, ca, "pi1"), ca.CertPool()), mux), js
}

// join is cluster:join: it returns the node certificate and the CA pool
// the joiner would store.
func join(t *testing.T, url, token, name string) (tls.Certificate, *x509.CertPool, error) {
	t.Helper()
	tok, err := pki.ParseToken(token)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := pki.NewNodeKey()
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	csr, err := pki.CSR(key, name)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	body, _ := json.Marshal(joinRequest{Token: token, Name: name, CSR: csr})
	resp, err := client(t, pki.PinnedTLS(tok.Pin)).Post(url+"/join", "application/json", bytes.NewReader(body))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return tls.Certificate{}, nil, errors.New(strings.TrimSuffix(string(b), "\n"))
	}
	var jr joinResponse
	if err := json.NewDecoder(resp.Body).Decode(&jr); err != nil {
		return tls.Certificate{}, nil, err
	}
	caCert, err := pki.ParseCertPEM(jr.CA)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if err := pki.CheckPin(caCert, tok.Pin); err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := pki.NodeCertificate(jr.Cert, keyPEM, caCert)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return cert, pool, nil
}

func TestJoin(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "other")
	pin := pki.Pin(ca.Cert())

	for _, tc := range []struct {
		name    string
		pin     string                    // the pin the token carries
		record  func(r *pki.TokenRecord)  // what the cluster did to the record since
		token   func(token string) string // what the user did to the token
		wantErr string
		wantIs  error
	}{
		{name: "fresh token", pin: pin},
		{name: "token of another cluster", pin: pki.Pin(other.Cert()),
			wantErr: pki.ErrPinMismatch.Error(), wantIs: pki.ErrPinMismatch},
		{name: "used token", pin: pin, record: func(r *pki.TokenRecord) { r.Used = true },
			wantErr: pki.ErrTokenUsed.Error()},
		{name: "expired token", pin: pin, record: func(r *pki.TokenRecord) { r.Expires = time.Now().Add(-time.Second) },
			wantErr: pki.ErrTokenExpired.Error()},
		{name: "forged secret", pin: pin, token: func(s string) string { return s[:len(s)-32] + testSecret },
			wantErr: pki.ErrTokenForged.Error()},
		{name: "unknown id", pin: pin, token: func(s string) string { return s[:6+64+1] + testID + s[6+64+1+16:] },
			wantErr: pki.ErrTokenUnknown.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, js := startServer(t, ca)
			token, rec, err := pki.NewToken(tc.pin, pki.RoleWorker, time.Hour, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if tc.record != nil {
				tc.record(&rec)
			}
			js.records[rec.ID] = rec
			if tc.token != nil {
				token = tc.token(token)
			}

			cert, pool, err := join(t, url, token, "pi2")
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("joined, want %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %q, want %q", err, tc.wantErr)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("got %q, want it to wrap %q", err, tc.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The new node talks to the cluster with mutual TLS.
			status, body, err := get(t, client(t, pki.ClientTLS(cert, pool, "pi1")), url+"/whoami")
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK || body != "pi2" {
				t.Errorf("got %d %q, want 200 %q", status, body, "pi2")
			}
		})
	}
}

func TestJoinTwiceWithOneToken(t *testing.T) {
	ca := newCA(t, "cluster")
	url, js := startServer(t, ca)
	token, rec, err := pki.NewToken(pki.Pin(ca.Cert()), pki.RoleWorker, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	js.records[rec.ID] = rec

	if _, _, err := join(t, url, token, "pi2"); err != nil {
		t.Fatalf("first join: %v", err)
	}
	_, _, err = join(t, url, token, "pi3")
	if err == nil {
		t.Fatalf("second join: got through, want %q", pki.ErrTokenUsed)
	}
	if got, want := err.Error(), pki.ErrTokenUsed.Error(); got != want {
		t.Errorf("second join: got %q, want %q", got, want)
	}
}

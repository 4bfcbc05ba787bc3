package pki_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"pier/cluster/pki"
)

func TestPinnedTLS(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "man in the middle")
	pin := pki.Pin(ca.Cert())
	node := newNode(t, ca, "pi1")
	stranger := newNode(t, other, "pi1")

	// The real CA's certificate is public: a man in the middle can present
	// it above a leaf of his own.
	borrowed := stranger
	borrowed.Certificate = [][]byte{stranger.Certificate[0], ca.Cert().Raw}
	// A server that presents its leaf alone gives the joiner no CA to pin.
	leafOnly := node
	leafOnly.Certificate = node.Certificate[:1]

	// Signed by a CA whose clock runs two days ahead of the joiner's.
	future := newNodeAt(t, ca, "pi1", time.Now().Add(48*time.Hour))

	tampered := []byte(pin)
	if tampered[10] == '0' { // another hex digit
		tampered[10] = '1'
	} else {
		tampered[10] = '0'
	}

	for _, tc := range []struct {
		name    string
		server  tls.Certificate
		pin     string
		wantErr string // "" for a completed request
		wantIs  error
	}{
		{name: "right pin", server: node, pin: pin},
		{name: "server of another CA", server: stranger, pin: pin,
			wantErr: "no certificate it presented has pin " + pin, wantIs: pki.ErrPinMismatch},
		{name: "real CA certificate above a leaf of another CA", server: borrowed, pin: pin,
			wantErr: "not signed by the pinned CA", wantIs: pki.ErrPinMismatch},
		{name: "server presents no CA", server: leafOnly, pin: pin,
			wantErr: "no certificate it presented has pin", wantIs: pki.ErrPinMismatch},
		{name: "joiner's clock behind", server: future, pin: pin,
			wantErr: "but this machine's clock says"},
		{name: "tampered pin", server: node, pin: string(tampered),
			wantErr: "no certificate it presented has pin " + string(tampered), wantIs: pki.ErrPinMismatch},
		{name: "malformed pin", server: node, pin: "abc",
			wantErr: "the CA pin is 3 characters long, want 64 hex digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := serve(t, pki.ServerTLS(tc.server, ca.CertPool()), nodeMux())
			status, body, err := get(t, client(t, pki.PinnedTLS(tc.pin)), url+"/join")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want the request to complete", err)
				}
				if status != http.StatusOK || body != "join" {
					t.Errorf("got %d %q, want 200 %q", status, body, "join")
				}
				return
			}
			if err == nil {
				t.Fatalf("got %d %q, want the handshake refused with %q", status, body, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %q, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("got %q, want it to wrap %q", err, tc.wantIs)
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "another cluster")
	// A CA that shares the cluster CA's name: crypto/tls offers a client
	// certificate only if its issuer is named in the server's request, so
	// only such a certificate reaches the server's verification.
	namesake := newCA(t, "cluster")
	pin := pki.Pin(ca.Cert())
	server := newNode(t, ca, "pi1")
	node := newNode(t, ca, "pi2")
	stranger := newNode(t, other, "pi2")
	impostor := newNode(t, namesake, "pi2")
	url := serve(t, pki.ServerTLS(server, ca.CertPool()), nodeMux())

	for _, tc := range []struct {
		name       string
		client     *tls.Config
		path       string
		wantStatus int
		wantBody   string
		wantErr    string // set when the handshake must fail
	}{
		{name: "node, node endpoint", client: pki.ClientTLS(node, ca.CertPool(), "pi1"),
			path: "/whoami", wantStatus: http.StatusOK, wantBody: "pi2"},
		{name: "node dialing by address, node endpoint", client: pki.ClientTLS(node, ca.CertPool(), ""),
			path: "/whoami", wantStatus: http.StatusOK, wantBody: "pi2"},
		{name: "node, join endpoint", client: pki.ClientTLS(node, ca.CertPool(), "pi1"),
			path: "/join", wantStatus: http.StatusOK, wantBody: "join"},
		{name: "no certificate, node endpoint", client: pki.PinnedTLS(pin),
			path: "/whoami", wantStatus: http.StatusForbidden, wantBody: pki.ErrNoPeerCert.Error()},
		{name: "no certificate, join endpoint", client: pki.PinnedTLS(pin),
			path: "/join", wantStatus: http.StatusOK, wantBody: "join"},
		{name: "certificate of another CA of the same name", client: pki.ClientTLS(impostor, ca.CertPool(), "pi1"),
			path: "/join", wantErr: "remote error: tls: unknown certificate authority"},
		{name: "certificate of another CA, withheld, node endpoint", client: pki.ClientTLS(stranger, ca.CertPool(), "pi1"),
			path: "/whoami", wantStatus: http.StatusForbidden, wantBody: pki.ErrNoPeerCert.Error()},
		{name: "server of another CA", client: pki.ClientTLS(node, other.CertPool(), "pi1"),
			path: "/join", wantErr: "certificate signed by unknown authority"},
		{name: "server of another name", client: pki.ClientTLS(node, ca.CertPool(), "pi9"),
			path: "/join", wantErr: "certificate is valid for pi1, not pi9"},
		{name: "TLS 1.2", client: &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true},
			path: "/join", wantErr: "protocol version not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := get(t, client(t, tc.client), url+tc.path)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got %d %q, want the handshake refused with %q", status, body, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %q, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus || body != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestPeerNameWithoutTLS(t *testing.T) {
	if _, err := pki.PeerName(nil); !errors.Is(err, pki.ErrNoPeerCert) {
		t.Errorf("got %v, want %q", err, pki.ErrNoPeerCert)
	}
	if _, err := pki.PeerName(&tls.ConnectionState{}); !errors.Is(err, pki.ErrNoPeerCert) {
		t.Errorf("got %v, want %q", err, pki.ErrNoPeerCert)
	}
}

// serve runs h over TLS with cfg on a loopback port until the test ends and
// returns its base URL.
func serve(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   h,
		TLSConfig: cfg,
		ErrorLog:  log.New(io.Discard, "", 0), // refused handshakes are the point of some tests
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// client returns an HTTP client that dials with cfg and opens a new
// connection for every request, so that each request is a handshake.
func client(t *testing.T, cfg *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get fetches url and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (int, string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSuffix(string(b), "\n"), err
}

// nodeMux serves /join to anyone and /whoami to nodes only, the way a
// node's listener splits its endpoints.
func nodeMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /join", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "join")
	})
	mux.Handle("GET /whoami", nodesOnly(func(w http.ResponseWriter, r *http.Request, peer string) {
		io.WriteString(w, peer)
	}))
	return mux
}

// nodesOnly refuses requests that do not come from a node of the cluster.
func nodesOnly(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := pki.PeerName(r.TLS)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		h(w, r, peer)
	})
}

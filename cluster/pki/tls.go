package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ErrNoPeerCert is returned by PeerName for a connection that carries no
// certificate of the cluster: a joiner, or anyone else who reached the port.
var ErrNoPeerCert = errors.New("this endpoint serves cluster nodes only, " +
	"and the connection carries no certificate of this cluster")

// ServerTLS returns the configuration of a node's listener: TLS 1.3,
// presenting nodeCert (from NodeCertificate, so that the chain includes the
// CA for joiners to check their pin against), and asking clients for a
// certificate signed by a CA in ca.
//
// A client certificate is verified if given but not required
// (tls.VerifyClientCertIfGiven), so that the join endpoint can serve
// joiners on the same listener. Every other endpoint must call PeerName and
// refuse the request if it fails; see the package comment.
//
// Each call returns a new Config, which the caller may modify.
func ServerTLS(nodeCert tls.Certificate, ca *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{nodeCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca,
	}
}

// ClientTLS returns the configuration for a node dialing another: TLS 1.3,
// presenting nodeCert, and accepting only a server whose certificate a CA
// in ca signed for serverName. serverName is the other node's name; if
// empty, crypto/tls uses the host of the address dialed, which must then be
// the node's name or one of the IP addresses CA.Sign put in its
// certificate.
//
// Each call returns a new Config, which the caller may modify.
func ClientTLS(nodeCert tls.Certificate, ca *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{nodeCert},
		RootCAs:      ca,
		ServerName:   serverName,
	}
}

// PinnedTLS returns the configuration for a joiner's connections to the
// server it joins through, before it has a certificate of its own: TLS 1.3,
// no client certificate, and a server accepted only if the chain it
// presents holds a CA certificate whose key has pin pin (see Pin) and a leaf
// that key signed for server authentication. Any other server fails the
// handshake with an error wrapping ErrPinMismatch, before a byte of the
// request is sent: the first request is already authenticated.
//
// The server's name is not checked: any node that holds a certificate of
// the pinned cluster may admit a joiner, whatever address it was reached
// at. A malformed pin fails every handshake.
//
// The standard verification is off (InsecureSkipVerify) because a pin is
// the trust anchor instead of a CA pool; VerifyConnection does the
// verification. Each call returns a new Config, which the caller may modify
// except for those two fields.
func PinnedTLS(pin string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // VerifyConnection checks the chain against the pin
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, pin)
		},
	}
}

// verifyPinned returns nil if chain, as a server presented it (leaf
// first), holds a certificate with pin pin whose key signed the leaf.
// Only the key matters: the certificate carrying it is not itself checked,
// because no one without the CA's private key can make a leaf it verifies.
func verifyPinned(chain []*x509.Certificate, pin string) error {
	if err := checkPinSyntax(pin); err != nil {
		return fmt.Errorf("verify server against pin: %w", err)
	}
	if len(chain) == 0 {
		return fmt.Errorf("%w (it presented no certificate)", ErrPinMismatch)
	}
	leaf := chain[0]
	for _, c := range chain[1:] {
		if Pin(c) != pin {
			continue
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			return fmt.Errorf("%w (the certificate with the pinned key is not a CA's)", ErrPinMismatch)
		}
		if err := leaf.CheckSignatureFrom(c); err != nil {
			return fmt.Errorf("%w (its certificate was not signed by the pinned CA: %v)", ErrPinMismatch, err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(c)
		opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		_, err := leaf.Verify(opts)
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			// The pinned CA signed it: the server is the right one, and the
			// fault is likely this machine's clock.
			return fmt.Errorf("the server's certificate is valid from %s to %s, but this machine's clock says %s: "+
				"correct the clock (is NTP running?) and try again",
				invalid.Cert.NotBefore.UTC().Format(time.RFC3339), invalid.Cert.NotAfter.UTC().Format(time.RFC3339),
				time.Now().UTC().Format(time.RFC3339))
		}
		if err != nil {
			return fmt.Errorf("%w (its certificate is not a node certificate of the pinned CA: %v)", ErrPinMismatch, err)
		}
		return nil
	}
	return fmt.Errorf("%w (no certificate it presented has pin %s)", ErrPinMismatch, pin)
}

// PeerName returns the name of the node at the other end of a connection
// made with ServerTLS or ClientTLS: the common name of the certificate
// crypto/tls verified against the cluster CA. On the server side it is the
// check every endpoint but the join endpoint makes (pass
// http.Request.TLS); a nil state or one without a verified chain returns
// ErrNoPeerCert.
//
// The name authenticates a node; what the node may do is for the cluster's
// membership to say.
func PeerName(cs *tls.ConnectionState) (string, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", ErrNoPeerCert
	}
	return cs.VerifiedChains[0][0].Subject.CommonName, nil
}

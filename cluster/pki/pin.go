package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// PinLen is the length of a pin: 64 lowercase hex digits.
const PinLen = 2 * sha256.Size

// ErrPinMismatch is returned when a server, or a CA certificate, does not
// match the pin a joiner holds: the joiner is talking to the wrong server or
// to a man in the middle, and must not send it anything.
var ErrPinMismatch = errors.New("the server did not prove it holds the CA the token is for: " +
	"this is the wrong server or a man in the middle; check the address, " +
	"or ask for a new token with pier cluster:token on a server of the cluster to join")

// Pin returns the pin of a CA certificate: the SHA-256 of its DER-encoded
// SubjectPublicKeyInfo, as 64 lowercase hex digits. It is what kubeadm's
// --discovery-token-ca-cert-hash holds after "sha256:", and it can be
// computed from a PEM file with
//
//	openssl x509 -in ca.crt -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
//
// A pin names the CA's key, not the certificate: a CA certificate reissued
// for the same key keeps its pin.
func Pin(caCert *x509.Certificate) string {
	sum := sha256.Sum256(caCert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// CheckPin returns nil if cert is a CA certificate whose pin is pin, and an
// error wrapping ErrPinMismatch otherwise. A joiner calls it on the CA
// certificate the server sends back with its node certificate, before
// storing either.
func CheckPin(cert *x509.Certificate, pin string) error {
	if err := checkPinSyntax(pin); err != nil {
		return err
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return fmt.Errorf("%w (%q is not a CA certificate)", ErrPinMismatch, trim(cert.Subject.CommonName))
	}
	if got := Pin(cert); got != pin {
		return fmt.Errorf("%w (its CA has pin %s, the token says %s)", ErrPinMismatch, got, pin)
	}
	return nil
}

// checkPinSyntax returns nil if pin is PinLen lowercase hex digits.
func checkPinSyntax(pin string) error {
	if len(pin) != PinLen {
		return fmt.Errorf("the CA pin is %d characters long, want %d hex digits", len(pin), PinLen)
	}
	if !isLowerHex(pin) {
		return fmt.Errorf("the CA pin has characters other than 0-9 and a-f")
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

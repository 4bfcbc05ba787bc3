package pki_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"pier/cluster/pki"
)

func TestPin(t *testing.T) {
	ca := newCA(t, "cluster")
	sum := sha256.Sum256(ca.Cert().RawSubjectPublicKeyInfo)
	if got, want := pki.Pin(ca.Cert()), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := len(pki.Pin(ca.Cert())); got != pki.PinLen {
		t.Errorf("got %d characters, want %d", got, pki.PinLen)
	}
}

func TestCheckPin(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "other")
	pin := pki.Pin(ca.Cert())
	node := newNode(t, ca, "pi2").Leaf

	for _, tc := range []struct {
		name   string
		pin    string
		want   string // "" for a match
		wantIs error
	}{
		{name: "match", pin: pin},
		{name: "another CA", pin: pki.Pin(other.Cert()),
			want: pki.ErrPinMismatch.Error() + " (its CA has pin " + pin + ", the token says " + pki.Pin(other.Cert()) + ")", wantIs: pki.ErrPinMismatch},
		{name: "upper case", pin: "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
			want: "the CA pin has characters other than 0-9 and a-f"},
		{name: "short", pin: pin[:63],
			want: "the CA pin is 63 characters long, want 64 hex digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pki.CheckPin(ca.Cert(), tc.pin)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %q, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("got %q, want it to wrap %q", err, tc.wantIs)
			}
		})
	}

	// A node certificate is no CA, whatever its pin.
	if err := pki.CheckPin(node, pki.Pin(node)); !errors.Is(err, pki.ErrPinMismatch) {
		t.Errorf("node certificate: got %v, want %q", err, pki.ErrPinMismatch)
	}
}

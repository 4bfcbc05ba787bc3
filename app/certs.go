package app

import "time"

// CertStatus is what pier knows of one host's TLS certificate.
type CertStatus struct {
	Host string `json:"host"`
	// Status is "valid", "expired", "none" (not obtained yet), "failing"
	// (the CA refused it: LastError says why, NextTry when it is asked
	// again) or "https disabled".
	Status    string    `json:"status"`
	Issuer    string    `json:"issuer,omitempty"` // the issuing CA's name
	NotAfter  time.Time `json:"not_after,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	NextTry   time.Time `json:"next_try,omitzero"`
}

// The certificate storage's changes: what certmagic keeps (certificates,
// their keys, the ACME account, pier's internal CA, the answers to ACME
// challenges being solved) and the locks it takes around issuance. They
// go through the log like the rest of the desired state, so that in a
// cluster a certificate is obtained once, every machine serves it, and any
// machine can answer a challenge.

// PutCertValue stores Value at Key, replacing what was there.
type PutCertValue struct {
	Key      string
	Value    []byte
	Modified time.Time
}

// DeleteCertValue removes Key and everything under it ("a/b" is under
// "a"). Deleting what does not exist changes nothing.
type DeleteCertValue struct{ Key string }

// TakeCertLock gives the lock Name to Holder until Until, if it is free,
// its lease ran out before At, or Holder has it already (a renewal).
// Otherwise it changes nothing; the taker reads who holds the lock after.
// At comes with the change so that every machine decides alike.
type TakeCertLock struct {
	Name, Holder string
	At, Until    time.Time
}

// ReleaseCertLock frees the lock Name if Holder has it.
type ReleaseCertLock struct{ Name, Holder string }

func (PutCertValue) isChange()    {}
func (DeleteCertValue) isChange() {}
func (TakeCertLock) isChange()    {}
func (ReleaseCertLock) isChange() {}

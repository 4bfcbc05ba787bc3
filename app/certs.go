package app

import "time"

// CertStatus is what pier knows of one host's TLS certificate.
type CertStatus struct {
	Host string `json:"host"`
	// Status is "valid", "expired", "none" (not obtained yet) or "https
	// disabled".
	Status   string    `json:"status"`
	Issuer   string    `json:"issuer,omitempty"` // the issuing CA's name
	NotAfter time.Time `json:"not_after,omitzero"`
}

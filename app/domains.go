package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ValidDomain checks a custom domain and returns it in the form pier keeps:
// lowercase ASCII, with internationalized names in their xn-- form and no
// trailing dot. Wildcards, IP addresses, single labels and names that are
// not valid DNS hostnames are refused.
func ValidDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" {
		return "", errors.New("empty domain")
	}
	if strings.Contains(d, "*") {
		return "", fmt.Errorf("invalid domain %.80q: wildcards are not supported", d)
	}
	if _, err := netip.ParseAddr(strings.Trim(d, "[]")); err == nil {
		return "", fmt.Errorf("invalid domain %.80q: an IP address is not a domain", d)
	}
	// idna reads invalid UTF-8 as U+FFFD and makes an xn-- label of it,
	// one it refuses itself when the name is checked again.
	if !utf8.ValidString(d) {
		return "", fmt.Errorf("invalid domain %.80q: not UTF-8 text", d)
	}
	ascii, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("invalid domain %.80q: %v", d, err)
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return "", fmt.Errorf("invalid domain %.80q: longer than 253 characters", d)
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("invalid domain %.80q: want a name with a dot, like www.example.com", d)
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "", fmt.Errorf("invalid domain %.80q: %q is not a DNS label (letters, digits and inner dashes, up to 63)", d, l)
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", fmt.Errorf("invalid domain %.80q: the last label is numeric", d)
	}
	return ascii, nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, c := range []byte(l) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Domains lists the hosts an app answers at: its own <app>.<domain> first,
// then its custom domains.
func (s *Routing) Domains(ctx context.Context, name string) ([]string, error) {
	a, err := s.app(ctx, name)
	if err != nil {
		return nil, err
	}
	return append([]string{name + "." + s.set.Domain}, a.Domains...), nil
}

// AddDomain makes app answer at domain too. A domain another app has is
// refused with ErrExists, as is a name under pier's own domain other than
// the app's own host.
func (s *Routing) AddDomain(ctx context.Context, name, domain string) error {
	d, err := ValidDomain(domain)
	if err != nil {
		return err
	}
	if sub, ok := strings.CutSuffix(d, "."+s.set.Domain); (ok || d == s.set.Domain) && sub != name {
		return fmt.Errorf("%s is under pier's domain %s: only %s.%s belongs to %s", d, s.set.Domain, name, s.set.Domain, name)
	}
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if slices.Contains(a.Domains, d) {
		return nil
	}
	if err := s.apply(ctx, AddDomain{App: name, Domain: d}); err != nil {
		if errors.Is(err, ErrExists) {
			return exists(d + " belongs to another app")
		}
		return err
	}
	return nil
}

// RemoveDomain stops app answering at domain. ErrNotFound if it does not.
func (s *Routing) RemoveDomain(ctx context.Context, name, domain string) error {
	d, err := ValidDomain(domain)
	if err != nil {
		return err
	}
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if !slices.Contains(a.Domains, d) {
		return NotFoundf("%s is not a domain of %s", d, name)
	}
	return s.apply(ctx, RemoveDomain{App: name, Domain: d})
}

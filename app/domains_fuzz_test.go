package app

import (
	"strings"
	"testing"
)

// An accepted custom domain is what the router and the certificate manager
// may use as it is: lowercase ASCII, at most 253 bytes, at least two
// labels, none empty or longer than 63, not an address, and the same when
// checked again.
func FuzzValidDomain(f *testing.F) {
	for _, s := range []string{
		"www.example.com", "WWW.Example.COM.", "bücher.example", "a-b.c0.example.org",
		"*.example.com", "10.0.0.1", "[::1]", "1.2.3.4.5", "localhost", "-a.example.com",
		"a_b.example.com", "a..example.com", "", "example.com/path", "user@example.com",
		"xn--zz.example.com", "xn--bcher-kva.example", "ex\u3002ample.com", " www.example.com ",
		strings.Repeat("a.", 126) + "com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ValidDomain(in)
		if err != nil {
			if d != "" {
				t.Fatalf("error %v with %q", err, d)
			}
			checkMessage(t, "error", err.Error())
			return
		}
		if len(d) > 253 || d != strings.ToLower(d) || strings.HasSuffix(d, ".") {
			t.Fatalf("%q: accepted as %q", in, d)
		}
		labels := strings.Split(d, ".")
		if len(labels) < 2 {
			t.Fatalf("%q: accepted as %q, a single label", in, d)
		}
		for _, l := range labels {
			if !validLabel(l) {
				t.Fatalf("%q: accepted as %q, with label %q", in, d, l)
			}
		}
		if again, err := ValidDomain(d); err != nil || again != d {
			t.Fatalf("%q: accepted as %q, which checks as %q, %v", in, d, again, err)
		}
		if again, err := ValidDomain(strings.ToUpper(d) + "."); err != nil || again != d {
			t.Fatalf("%q: accepted as %q, but %q checks as %q, %v", in, d, strings.ToUpper(d)+".", again, err)
		}
	})
}

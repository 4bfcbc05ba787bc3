package app

import "testing"

func TestValidDomain(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"www.example.com", "www.example.com"},
		{"WWW.Example.COM.", "www.example.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"a-b.c0.example.org", "a-b.c0.example.org"},
		{"*.example.com", ""},
		{"10.0.0.1", ""},
		{"[::1]", ""},
		{"1.2.3.4.5", ""},
		{"localhost", ""},
		{"-a.example.com", ""},
		{"a_b.example.com", ""},
		{"a..example.com", ""},
		{"", ""},
		{"example.com/path", ""},
		{"user@example.com", ""},
		{"xn--zz.example.com", ""},
	} {
		got, err := ValidDomain(tc.in)
		if tc.want == "" && err == nil {
			t.Errorf("ValidDomain(%q) = %q, want an error", tc.in, got)
		}
		if tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("ValidDomain(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

package app

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseManifestAccess(t *testing.T) {
	m, warnings, err := ParseManifest([]byte(`{"pier": {"access": {"allow": ["10.0.0.0/8", "192.0.2.7", "2001:db8::1/64"]}}}`))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	want := &AccessSettings{Allow: []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/64"}}
	if !reflect.DeepEqual(m.Pier.Access, want) {
		t.Fatalf("got %+v, want %+v", m.Pier.Access, want)
	}

	_, warnings, err = ParseManifest([]byte(`{"pier": {"access": {"allow": [], "users": {"a": "b"}}}}`))
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], `pier.access: unknown key "users"`) {
		t.Fatalf("an unknown key: err %v, warnings %q", err, warnings)
	}

	for _, tc := range []struct{ json, want string }{
		{`{"pier": {"access": {"allow": ["10.0.0.0/33"]}}}`, "pier.access.allow[0]"},
		{`{"pier": {"access": {"allow": ["example.com"]}}}`, "pier.access.allow[0]"},
		{`{"pier": {"access": {"allow": "10.0.0.0/8"}}}`, "pier.access.allow"},
		{`{"pier": {"access": {"allow": [8]}}}`, "pier.access.allow[0]"},
		{`{"pier": {"access": true}}`, "pier.access"},
	} {
		if _, _, err := ParseManifest([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one naming %s", tc.json, err, tc.want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"127.0.0.2", "127.0.0.2/32"},
		{"::ffff:127.0.0.2", "127.0.0.2/32"},
		{"::1", "::1/128"},
		{"10.0.0.0/40", ""},
		{"10.0.0", ""},
		{"", ""},
	} {
		p, err := ParsePrefix(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParsePrefix(%q) = %s, want an error", tc.in, p)
		case tc.want != "" && (err != nil || p != netip.MustParsePrefix(tc.want)):
			t.Errorf("ParsePrefix(%q) = %s, %v, want %s", tc.in, p, err, tc.want)
		}
	}
}

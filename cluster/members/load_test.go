package members

import (
	"math"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      Load
		leaving bool
		want    Load // what arrives
	}{
		{"zero", Load{}, false, Load{}},
		{"typical", Load{
			Addr: "192.168.1.20:7443", Role: "server", Arch: "arm64", CPUs: 4,
			MemAvail: 1800 << 20, MemTotal: 3906 << 20, DiskAvail: 23 << 30, Load1: 0.42, Instances: 12,
		}, false, Load{
			Addr: "192.168.1.20:7443", Role: "server", Arch: "arm64", CPUs: 4,
			MemAvail: 1800 << 20, MemTotal: 3906 << 20, DiskAvail: 23 << 30, Load1: 0.42, Instances: 12,
		}},
		{"rounded", Load{MemAvail: 5<<20 + 123456, Load1: 1.23456}, false, Load{MemAvail: 5 << 20, Load1: 1.23}},
		{"leaving", Load{Role: "worker"}, true, Load{Role: "worker"}},
		{"labels", Load{Labels: map[string]string{"disk": "ssd", "zone": "attic"}}, false,
			Load{Labels: map[string]string{"disk": "ssd", "zone": "attic"}}},
		{"largest", Load{
			Addr: "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535", Role: "server", Arch: "loong64",
			CPUs: math.MaxInt32, MemAvail: math.MaxInt64, MemTotal: math.MaxInt64, DiskAvail: math.MaxInt64,
			Load1: 99999.99, Instances: math.MaxInt32,
		}, false, Load{
			Addr: "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535", Role: "server", Arch: "loong64",
			CPUs: math.MaxInt32, MemAvail: math.MaxInt64 &^ (mib - 1), MemTotal: math.MaxInt64 &^ (mib - 1),
			DiskAvail: math.MaxInt64 &^ (mib - 1), Load1: 99999.99, Instances: math.MaxInt32,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeMeta(tc.in, tc.leaving)
			if err != nil {
				t.Fatal(err)
			}
			got, leaving, err := decodeMeta(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !sameLoad(got, tc.want) || leaving != tc.leaving {
				t.Errorf("got %+v leaving=%v, want %+v leaving=%v", got, leaving, tc.want, tc.leaving)
			}
			t.Logf("%d bytes: %s", len(b), b)
		})
	}
}

func TestEncodeMetaRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Load
		want string
	}{
		{"oversize", Load{Addr: strings.Repeat("x", memberlist.MetaMaxSize)}, "more than the 512"},
		{"just over", Load{Addr: strings.Repeat("x", memberlist.MetaMaxSize-len(`{"a":""}`)+1)}, "513 bytes"},
		{"negative memory", Load{MemAvail: -1}, "negative"},
		{"negative cpus", Load{CPUs: -1}, "negative"},
		{"NaN load", Load{Load1: math.NaN()}, "load average"},
		{"infinite load", Load{Load1: math.Inf(1)}, "load average"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeMeta(tc.in, false)
			if err == nil {
				t.Fatalf("encoded %d bytes", len(b))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err, tc.want)
			}
		})
	}
	// Right at the limit is fine.
	l := Load{Addr: strings.Repeat("x", memberlist.MetaMaxSize-len(`{"a":""}`))}
	if b, err := encodeMeta(l, false); err != nil || len(b) != memberlist.MetaMaxSize {
		t.Errorf("at the limit: got %d bytes, %v", len(b), err)
	}
}

// Metadata a peer may send that must come out as an error (and so a zero
// Load), never a panic or a wrapped-around figure.
var badMeta = []struct {
	name string
	meta string
}{
	{"empty", ""},
	{"not json", "\x00\x01\xff"},
	{"truncated", `{"a":"10.0.0.1:7443","c":4`},
	{"array", `[1,2,3]`},
	{"string", `"server"`},
	{"wrong type", `{"c":"4"}`},
	{"float cpus", `{"c":4.5}`},
	{"negative cpus", `{"c":-1}`},
	{"negative memory", `{"ma":-1}`},
	{"negative load", `{"l":-0.5}`},
	{"int overflow", `{"i":99999999999999999999999}`},
	{"float overflow", `{"l":1e400}`},
	{"MiB overflow", `{"da":8796093022208}`}, // 2^43 MiB = 2^63 bytes
	{"oversize", `{"a":"` + strings.Repeat("x", memberlist.MetaMaxSize) + `"}`},
	{"bad leaving", `{"x":"yes"}`},
}

func TestDecodeMetaRefuses(t *testing.T) {
	for _, tc := range badMeta {
		t.Run(tc.name, func(t *testing.T) {
			l, leaving, err := decodeMeta([]byte(tc.meta))
			if err == nil {
				t.Fatalf("decoded %+v leaving=%v", l, leaving)
			}
			if !sameLoad(l, Load{}) || leaving {
				t.Errorf("with error %v: got %+v leaving=%v, want zero", err, l, leaving)
			}
		})
	}
	// Keys a newer machine may add are ignored; null is no figures.
	for _, meta := range []string{`{"c":2,"gpu":1,"zone":"b"}`, `null`, `{}`} {
		if _, _, err := decodeMeta([]byte(meta)); err != nil {
			t.Errorf("%s: %v", meta, err)
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	for _, tc := range badMeta {
		f.Add([]byte(tc.meta))
	}
	good, _ := encodeMeta(Load{Addr: "10.0.0.1:7443", Role: "worker", CPUs: 2, MemAvail: 1 << 30, Load1: 0.1}, true)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		l, leaving, err := decodeMeta(b)
		if err != nil {
			if !sameLoad(l, Load{}) || leaving {
				t.Fatalf("error %v with %+v", err, l)
			}
			return
		}
		if l.CPUs < 0 || l.MemAvail < 0 || l.MemTotal < 0 || l.DiskAvail < 0 || l.Load1 < 0 || l.Instances < 0 {
			t.Fatalf("out of range: %+v", l)
		}
		// What decodes re-encodes to the same figures, unless JSON's
		// escapes (of "<", say) take it past the limit.
		b2, err := encodeMeta(l, leaving)
		if err != nil {
			if !strings.Contains(err.Error(), "more than") {
				t.Fatalf("re-encode %+v: %v", l, err)
			}
			return
		}
		l2, leaving2, err := decodeMeta(b2)
		if err != nil || leaving2 != leaving || l2.Addr != l.Addr || l2.MemAvail != l.MemAvail || l2.CPUs != l.CPUs {
			t.Fatalf("round trip: %+v → %s → %+v, %v", l, b2, l2, err)
		}
	})
}

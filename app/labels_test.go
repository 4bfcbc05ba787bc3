package app

import (
	"strings"
	"testing"
)

func TestParseNodeLabels(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "", want: ""},
		{in: "disk=ssd", want: "disk=ssd"},
		{in: " zone=attic , disk=ssd", want: "disk=ssd,zone=attic"},
		{in: "pier.io_x-1=A.b_c-9", want: "pier.io_x-1=A.b_c-9"},
		{in: "disk", err: "want key=value"},
		{in: "disk=ssd,disk=hdd", err: "given twice"},
		{in: "Disk=ssd", err: "a key is up to 32 lowercase"},
		{in: "-disk=ssd", err: "a key is up to 32"},
		{in: "disk=", err: "a value is 1 to 32"},
		{in: "disk=s s", err: "a value is 1 to 32"},
		{in: "disk=" + strings.Repeat("x", 33), err: "a value is 1 to 32"},
		{in: strings.Repeat("k", 33) + "=v", err: "a key is up to 32"},
		{in: "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1", err: "9 node labels: at most 8"},
	} {
		got, err := ParseNodeLabels(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseNodeLabels(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || FormatLabels(got) != tc.want):
			t.Errorf("ParseNodeLabels(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if !HasLabels(map[string]string{"disk": "ssd", "zone": "attic"}, map[string]string{"disk": "ssd"}) ||
		HasLabels(map[string]string{"disk": "hdd"}, map[string]string{"disk": "ssd"}) || !HasLabels(nil, nil) {
		t.Error("HasLabels")
	}
}

func TestParseManifestNodeLabels(t *testing.T) {
	m, _, err := ParseManifest([]byte(`{"pier": {"node_labels": {"disk": "ssd"}}}`))
	if err != nil || m.Pier.NodeLabels["disk"] != "ssd" {
		t.Fatalf("got %v, %v", m.Pier.NodeLabels, err)
	}
	for in, want := range map[string]string{
		`{"pier": {"node_labels": ["disk=ssd"]}}`:  `pier.node_labels: want an object of labels`,
		`{"pier": {"node_labels": {"disk": 1}}}`:   `pier.node_labels: want an object of labels`,
		`{"pier": {"node_labels": {"Disk": "x"}}}`: `pier.node_labels: node label "Disk"`,
	} {
		if _, _, err := ParseManifest([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error with %q", in, err, want)
		}
	}
}

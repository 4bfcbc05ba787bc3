package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// Frames carry any payload, split at maxFrame; a frame that claims more
// than maxFrame is refused before anything is allocated for it.
func TestShellFrames(t *testing.T) {
	var b bytes.Buffer
	fw := &frameWriter{w: &b}
	big := bytes.Repeat([]byte("x"), maxFrame+10)
	for _, f := range []struct {
		typ     byte
		payload []byte
	}{{frameHead, []byte(`{"kind":"run"}`)}, {frameEOF, nil}, {frameOutput, big}} {
		if err := fw.frame(f.typ, f.payload); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&b)
	var got []string
	var output int
	for {
		typ, payload, err := readFrame(r)
		if err != nil {
			break
		}
		if typ == frameOutput {
			output += len(payload)
		}
		got = append(got, string(typ))
	}
	if strings.Join(got, "") != "hcoo" || output != len(big) {
		t.Fatalf("frames %q with %d output bytes, want hcoo with %d", got, output, len(big))
	}

	var hdr [5]byte
	hdr[0] = frameStdin
	binary.BigEndian.PutUint32(hdr[1:], 1<<31)
	if _, _, err := readFrame(bufio.NewReader(bytes.NewReader(hdr[:]))); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("a frame of 2 GiB: %v", err)
	}
}

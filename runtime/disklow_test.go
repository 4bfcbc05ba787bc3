package runtime

import (
	"context"
	"strings"
	"testing"
)

// Below the reserve builds are refused and stopped with a reason naming
// the disk and what to do.
func TestDiskLow(t *testing.T) {
	c := &Containerd{cfg: Config{DataDir: t.TempDir()}}
	if got := c.diskLow(); got != "" {
		t.Errorf("without a reserve: %q", got)
	}
	c.cfg.DiskReserve = 1 << 62 // more than any disk has
	got := c.diskLow()
	if !strings.Contains(got, "nearly full") || !strings.Contains(got, c.cfg.DataDir) || !strings.Contains(got, "free space") {
		t.Errorf("below the reserve: %q", got)
	}
	var out strings.Builder
	ws := &Workspace{c: c}
	if code, err := ws.Run(context.Background(), RunSpec{Args: []string{"true"}, Out: &out}); code == 0 || err != nil || out.String() != got+"\n" {
		t.Errorf("a build step below the reserve: exit %d, %v, %q", code, err, out.String())
	}
}

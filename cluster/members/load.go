package members

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/hashicorp/memberlist"
)

// Load is what a machine tells the others about itself: where to reach it
// and how busy it is. It travels as memberlist node metadata, which is at
// most memberlist.MetaMaxSize (512) bytes; see encodeMeta for the form.
type Load struct {
	// Addr is the machine's cluster (TLS) address, host:port: what the
	// others dial for raft and node-to-node HTTP.
	Addr string
	Role string // "server" or "worker"
	Arch string // GOARCH
	CPUs int
	// Memory available and in total, disk available under pier's data
	// directory, in bytes. They travel in whole MiB: what arrives is
	// rounded down to a MiB.
	MemAvail, MemTotal, DiskAvail int64
	// Load1 is the 1-minute load average; it travels to two decimals.
	Load1     float64
	Instances int // app processes running there
	// Labels say what the machine offers (pier serve --node-labels).
	Labels map[string]string
}

// meta is Load on the wire: JSON with short keys and omitted zeros, about
// 100 bytes for a typical machine, which leaves room for fields to come.
// A decoder ignores keys it does not know, so a machine may carry fields
// an older one does not read. Bytes travel as MiB, so that a few KiB of
// churn in free memory does not make a change to gossip.
type meta struct {
	Addr      string            `json:"a,omitempty"`
	Role      string            `json:"r,omitempty"`
	Arch      string            `json:"h,omitempty"`
	CPUs      int               `json:"c,omitempty"`
	MemAvail  int64             `json:"ma,omitempty"` // MiB
	MemTotal  int64             `json:"mt,omitempty"` // MiB
	DiskAvail int64             `json:"da,omitempty"` // MiB
	Load1     float64           `json:"l,omitempty"`
	Instances int               `json:"i,omitempty"`
	Labels    map[string]string `json:"lb,omitempty"`
	// Leaving is set by Leave just before memberlist announces the
	// departure, so that the others can tell a machine that left from
	// one that failed: memberlist v0.6.0 tells its delegates neither.
	Leaving bool `json:"x,omitempty"`
}

const mib = 1 << 20

var errNegative = errors.New("negative figure")

// encodeMeta is l (and whether the machine is leaving) as node metadata.
// It fails, rather than truncate, past memberlist.MetaMaxSize, and on a
// negative figure or a Load1 that is not a finite number.
func encodeMeta(l Load, leaving bool) ([]byte, error) {
	if l.CPUs < 0 || l.MemAvail < 0 || l.MemTotal < 0 || l.DiskAvail < 0 || l.Instances < 0 || l.Load1 < 0 {
		return nil, fmt.Errorf("encode load: %w", errNegative)
	}
	if math.IsNaN(l.Load1) || math.IsInf(l.Load1, 0) {
		return nil, fmt.Errorf("encode load: load average %v", l.Load1)
	}
	b, err := json.Marshal(meta{
		Addr:      l.Addr,
		Role:      l.Role,
		Arch:      l.Arch,
		CPUs:      l.CPUs,
		MemAvail:  l.MemAvail / mib,
		MemTotal:  l.MemTotal / mib,
		DiskAvail: l.DiskAvail / mib,
		Load1:     math.Round(l.Load1*100) / 100,
		Instances: l.Instances,
		Labels:    l.Labels,
		Leaving:   leaving,
	})
	if err != nil {
		return nil, fmt.Errorf("encode load: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("encode load: %d bytes, more than the %d memberlist carries", len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// decodeMeta reads what a peer sent as its metadata. Anything malformed,
// oversized or out of range is an error, and the caller then shows the
// peer with a zero Load; nothing a peer sends can make it panic.
func decodeMeta(b []byte) (l Load, leaving bool, err error) {
	if len(b) > memberlist.MetaMaxSize {
		return Load{}, false, fmt.Errorf("decode load: %d bytes, more than %d", len(b), memberlist.MetaMaxSize)
	}
	if len(b) == 0 {
		return Load{}, false, errors.New("decode load: empty")
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Load{}, false, fmt.Errorf("decode load: %w", err)
	}
	const maxMiB = math.MaxInt64 / mib
	if m.CPUs < 0 || m.Instances < 0 || m.Load1 < 0 ||
		m.MemAvail < 0 || m.MemTotal < 0 || m.DiskAvail < 0 ||
		m.MemAvail > maxMiB || m.MemTotal > maxMiB || m.DiskAvail > maxMiB {
		return Load{}, false, errors.New("decode load: figure out of range")
	}
	return Load{
		Addr:      m.Addr,
		Role:      m.Role,
		Arch:      m.Arch,
		CPUs:      m.CPUs,
		MemAvail:  m.MemAvail * mib,
		MemTotal:  m.MemTotal * mib,
		DiskAvail: m.DiskAvail * mib,
		Load1:     m.Load1,
		Instances: m.Instances,
		Labels:    m.Labels,
	}, m.Leaving, nil
}

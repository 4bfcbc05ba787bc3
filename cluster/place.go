package cluster

import (
	"context"
	"fmt"
	"slices"

	"pier/app"
	"pier/cluster/members"
)

// defaultAppMemory is what an app without a memory limit is taken to
// need on a machine, for placement.
const defaultAppMemory = 256 << 20

// Place chooses the machines an app with formation runs on (see
// app.Placer): as many as its largest process count, never more than the
// machines alive. The machines it runs on stay first, in their order, while
// alive; then come the others alive with the same architecture and room
// for its memory limit, most memory available first (this machine's
// counted a tenth more, so that a close call keeps the image where it
// is). Only machines with the labels the release's app.json names
// (pier.node_labels) count; with none alive, Place fails saying so. A
// machine in no cluster places nothing.
func (c *Cluster) Place(ctx context.Context, a app.App, rel app.Release, formation map[string]int) ([]string, error) {
	c.mu.RLock()
	m := c.on
	c.mu.RUnlock()
	if m == nil {
		return nil, nil
	}
	out := place(m, a, rel, formation, "")
	if len(out) == 0 {
		return nil, fmt.Errorf("no machine alive has the labels %s that %s's app.json asks for (pier.node_labels): nodes:list shows each machine's; pier serve --node-labels sets them",
			app.FormatLabels(rel.Manifest.Pier.NodeLabels), a.Name)
	}
	return out, nil
}

// place is Place on m, never choosing the machine without.
func place(m *member, a app.App, rel app.Release, formation map[string]int, without string) []string {
	want := 1
	for proc, n := range formation {
		if proc != "release" && n > want {
			want = n
		}
	}
	alive := map[string]members.Load{}
	var candidates []members.Member
	arch := ""
	labels := rel.Manifest.Pier.NodeLabels
	for _, g := range m.gossip.Members() {
		if g.Name == m.id.Name {
			arch = g.Load.Arch
		}
		if g.State == members.Alive && g.Name != without && app.HasLabels(g.Load.Labels, labels) {
			alive[g.Name] = g.Load
			candidates = append(candidates, g)
		}
	}
	if len(a.Placement) > 0 {
		if l, ok := alive[a.Placement[0]]; ok {
			arch = l.Arch
		}
	}
	need := int64(app.LimitsFor(a, rel).MemoryMiB) << 20
	if need == 0 {
		need = defaultAppMemory
	}
	var out []string
	for _, name := range a.Placement {
		if _, ok := alive[name]; ok && len(out) < want {
			out = append(out, name)
		}
	}
	// This machine (where the push or the command came) counts a tenth
	// more: within that, the image need not travel.
	room := func(g members.Member) int64 {
		if g.Name == m.id.Name {
			return g.Load.MemAvail + g.Load.MemAvail/10
		}
		return g.Load.MemAvail
	}
	slices.SortFunc(candidates, func(x, y members.Member) int {
		if rx, ry := room(x), room(y); rx != ry {
			if rx > ry {
				return -1
			}
			return 1
		}
		if x.Name < y.Name {
			return -1
		}
		return 1
	})
	for _, g := range candidates {
		if len(out) >= want {
			break
		}
		if slices.Contains(out, g.Name) || g.Load.Arch != arch || g.Load.MemAvail < need {
			continue
		}
		out = append(out, g.Name)
	}
	if len(out) == 0 && without == "" && len(labels) == 0 {
		out = []string{m.id.Name}
	}
	return out
}

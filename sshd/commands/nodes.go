package commands

// nodes:list and nodes:report: the cluster's machines and their load.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"pier/app"
)

// memberJSON is a member as nodes:list and nodes:report print it with
// --format json.
type memberJSON struct {
	Name      string            `json:"name"`
	Address   string            `json:"address"`
	Role      string            `json:"role"`
	State     string            `json:"state"`
	Leader    bool              `json:"leader"`
	Self      bool              `json:"self"`
	Arch      string            `json:"arch"`
	MemAvail  int64             `json:"memory_available_bytes"`
	MemTotal  int64             `json:"memory_total_bytes"`
	DiskAvail int64             `json:"disk_available_bytes"`
	CPUs      int               `json:"cpus"`
	Load1     float64           `json:"load1"`
	Instances int               `json:"instances"`
	Labels    map[string]string `json:"labels,omitempty"`
	Seen      *time.Time        `json:"last_seen,omitempty"`
}

func toMemberJSON(m app.Member) memberJSON {
	j := memberJSON{m.Name, m.Address, m.Role, m.State, m.Leader, m.Self, m.Arch,
		m.MemAvail, m.MemTotal, m.DiskAvail, m.CPUs, m.Load1, m.Instances, m.Labels, nil}
	if !m.Seen.IsZero() {
		j.Seen = &m.Seen
	}
	return j
}

// nodesList prints the cluster's machines, the leader marked with a *.
// With --format json, an array of memberJSON.
func (h clusterCommands) nodesList(ctx context.Context, c Call, args []string) error {
	asJSON, err := listFormat(args)
	if err != nil {
		return err
	}
	nodes, err := h.p.Nodes(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		rows := make([]memberJSON, 0, len(nodes))
		for _, m := range nodes {
			rows = append(rows, toMemberJSON(m))
		}
		return writeJSON(c.Stdout, rows)
	}
	if len(nodes) == 0 {
		fmt.Fprintln(c.Stdout, notInCluster)
		return nil
	}
	led, self := false, ""
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "NAME\tADDRESS\tROLE\tSTATE\tARCH\tMEMORY\tCPU\tINSTANCES")
	for _, m := range nodes {
		name := m.Name
		if m.Leader {
			name, led = name+"*", true
		}
		if m.Self {
			self = m.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", name, orDash(m.Address), orDash(m.Role), orDash(m.State),
			orDash(m.Arch), memoryCell(m), cpuCell(m), m.Instances)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	if led {
		notes = append(notes, "* leads the cluster")
	}
	if self != "" {
		notes = append(notes, "this machine is "+self)
	}
	notes = append(notes, "MEMORY is available/total")
	fmt.Fprintln(c.Stdout, strings.Join(notes, "; "))
	return nil
}

// nodesReport prints one member; with --format json, its memberJSON.
func (h clusterCommands) nodesReport(ctx context.Context, c Call, args []string) error {
	pos, flags, err := splitFlags(args, "--format")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badUsage("")
	}
	name := pos[0]
	if err := validNodeName(name); err != nil {
		return badUsage("%v", err)
	}
	asJSON, err := formatFlag(flags)
	if err != nil {
		return err
	}
	nodes, err := h.p.Nodes(ctx)
	if err != nil {
		return err
	}
	for _, m := range nodes {
		if m.Name != name {
			continue
		}
		if asJSON {
			return writeJSON(c.Stdout, toMemberJSON(m))
		}
		return writeMember(c.Stdout, m)
	}
	return fmt.Errorf("no node %s in the cluster; nodes:list shows them", name)
}

func writeMember(w io.Writer, m app.Member) error {
	var marks []string
	if m.Leader {
		marks = append(marks, "the leader")
	}
	if m.Self {
		marks = append(marks, "this machine")
	}
	fmt.Fprintf(w, "=== %s", m.Name)
	if len(marks) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(marks, ", "))
	}
	fmt.Fprintln(w)
	seen := "never"
	if !m.Seen.IsZero() {
		seen = ago(m.Seen)
	}
	mem, disk, cpu := "-", "-", "-"
	if m.MemTotal > 0 {
		mem = fmt.Sprintf("%s available of %s", humanBytes(m.MemAvail), humanBytes(m.MemTotal))
	}
	if m.DiskAvail > 0 {
		disk = humanBytes(m.DiskAvail) + " available"
	}
	if m.CPUs > 0 {
		cpu = fmt.Sprintf("%d, load %.2f", m.CPUs, m.Load1)
	}
	tw := columns(w)
	fmt.Fprintf(tw, "Address:\t%s\n", orDash(m.Address))
	fmt.Fprintf(tw, "Role:\t%s\n", orDash(m.Role))
	fmt.Fprintf(tw, "State:\t%s, last seen %s\n", orDash(m.State), seen)
	fmt.Fprintf(tw, "Arch:\t%s\n", orDash(m.Arch))
	fmt.Fprintf(tw, "Memory:\t%s\n", mem)
	fmt.Fprintf(tw, "Disk:\t%s\n", disk)
	fmt.Fprintf(tw, "CPUs:\t%s\n", cpu)
	fmt.Fprintf(tw, "Instances:\t%d\n", m.Instances)
	fmt.Fprintf(tw, "Labels:\t%s\n", orDash(app.FormatLabels(m.Labels)))
	return tw.Flush()
}

// memoryCell is "412M/1.9G", available of total, or "-" before the
// member reported it.
func memoryCell(m app.Member) string {
	if m.MemTotal <= 0 {
		return "-"
	}
	return humanBytes(m.MemAvail) + "/" + humanBytes(m.MemTotal)
}

// cpuCell is "2 (load 0.31)", or "-" before the member reported it.
func cpuCell(m app.Member) string {
	if m.CPUs <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d (load %.2f)", m.CPUs, m.Load1)
}

// humanBytes says n bytes in binary units as ParseMemory reads them:
// "512B", "412M", "1.9G", with a decimal below 10.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	v, unit := float64(n), ""
	for _, u := range []string{"K", "M", "G", "T", "P", "E"} {
		v, unit = v/1024, u
		if v < 1024 {
			break
		}
	}
	s := fmt.Sprintf("%.1f", v)
	if v >= 9.95 {
		s = fmt.Sprintf("%.0f", v)
	}
	return strings.TrimSuffix(s, ".0") + unit
}

// validNodeName accepts what a node's name is (the DNS name in its
// certificate, as cluster/pki checks it): lowercase letters, digits and
// dashes in dot-separated labels of up to 63, 253 in all.
func validNodeName(name string) error {
	bad := fmt.Errorf("node name %.64q is not a DNS name: use lowercase letters, digits and dashes in dot-separated labels", name)
	if name == "" || len(name) > 253 {
		return bad
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return bad
			}
		}
	}
	return nil
}

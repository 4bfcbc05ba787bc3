package runtime

import (
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mount binds a host path into a container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// process describes the one process of a container, for spec building.
type process struct {
	Args     []string
	Env      []string
	User     string // name or uid[:gid] resolved in the container's /etc/passwd
	Cwd      string
	ReadOnly bool // read-only root filesystem
	Mounts   []Mount
	Memory   int64
	Netns    string // path of the network namespace to join
	Hostname string
	// ShimGroup puts containers with the same value in one shim process.
	ShimGroup string
}

// shimGroupAnnotation makes runc.v2 serve several containers from one shim
// (3.3 MB each otherwise).
const shimGroupAnnotation = "io.containerd.runc.v2.group"

// specOpts builds the OCI spec for p, after the image's own config.
func (c *Containerd) specOpts(p process) []oci.SpecOpts {
	mounts := []specs.Mount{
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", "size=64m"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: c.resolvPath(), Options: []string{"rbind", "ro"}},
		{Destination: "/etc/hosts", Type: "bind", Source: c.hostsPath(), Options: []string{"rbind", "ro"}},
	}
	for _, m := range p.Mounts {
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		mounts = append(mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: []string{"rbind", opt}})
	}
	opts := []oci.SpecOpts{
		oci.WithProcessArgs(p.Args...),
		oci.WithEnv(p.Env),
		oci.WithMounts(mounts),
		oci.WithMemoryLimit(uint64(p.Memory)),
		oci.WithPidsLimit(c.cfg.PidsLimit),
		oci.WithNoNewPrivileges,
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: p.Netns}),
	}
	if p.User != "" {
		opts = append(opts, oci.WithUser(p.User), oci.WithAdditionalGIDs(p.User))
	}
	if p.Cwd != "" {
		opts = append(opts, oci.WithProcessCwd(p.Cwd))
	}
	if p.ReadOnly {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if p.Hostname != "" {
		opts = append(opts, oci.WithHostname(p.Hostname))
	}
	if p.ShimGroup != "" {
		opts = append(opts, oci.WithAnnotations(map[string]string{shimGroupAnnotation: p.ShimGroup}))
	}
	return opts
}

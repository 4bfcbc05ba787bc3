package runtime

import (
	"context"
	"os"
	"strings"

	"github.com/containerd/containerd/containers"
	capparmor "github.com/containerd/containerd/contrib/apparmor"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"pier/app"
)

// Mount binds a host path into a container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// process describes the one process of a container, for spec building.
type process struct {
	Args []string
	Env  []string
	User string // name or uid[:gid] resolved in the container's /etc/passwd
	Cwd  string
	// ProtectSystem makes the base's system directories (systemPaths)
	// read-only; the rest of the root, /app included, stays writable and
	// goes with the container's snapshot.
	ProtectSystem bool
	Mounts        []Mount
	Memory        int64
	CPU           float64 // cores; 0 for no limit
	// Background gives the process a small CPU weight (builds): when the
	// CPU is busy, app processes get it first.
	Background bool
	Netns      string // path of the network namespace to join
	Hostname   string
	// ShimGroup puts containers with the same value in one shim process.
	ShimGroup string
	// TTY, if set, gives the process a terminal of that size.
	TTY *app.WindowSize
	// Output, if set, is a host file the process appends its stdout and
	// stderr to itself (see outputTarget), instead of through the shim.
	Output string
}

// outputTarget is where a process's Output file is mounted. The process's
// own shell opens it, so every byte the process wrote is in the file by the
// time it exits: output copied by the shim can still be in flight then,
// and short runs lost theirs under load.
const outputTarget = "/dev/pier-output"

// withOutput runs args with stdout and stderr appended to outputTarget.
func withOutput(args []string) []string {
	return append([]string{"/bin/sh", "-c", `exec "$0" "$@" >>` + outputTarget + ` 2>&1`}, args...)
}

// shimGroupAnnotation makes runc.v2 serve several containers from one shim
// (3.3 MB each otherwise).
const shimGroupAnnotation = "io.containerd.runc.v2.group"

// appShimGroup is the one shim group of every app process, instances and
// one-offs of all apps alike: one shim of about 14 MB serves them all
// instead of one per app, and an app's processes are as isolated from
// each other's as before (the shim only starts them and relays their
// exits). If the shim dies its processes end with it, and the node's heal
// loop starts them again, as after any crash.
const appShimGroup = "pier-apps"

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
		// A volume is data: no setuid binary or device node in it works.
		mounts = append(mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: []string{"rbind", opt, "nosuid", "nodev"}})
	}
	args := p.Args
	if p.Output != "" {
		mounts = append(mounts, specs.Mount{Destination: outputTarget, Type: "bind", Source: p.Output, Options: []string{"rbind", "rw"}})
		args = withOutput(args)
	}
	opts := []oci.SpecOpts{
		oci.WithProcessArgs(args...),
		oci.WithEnv(p.Env),
		oci.WithMounts(mounts),
		oci.WithMemoryLimit(uint64(p.Memory)),
		withNoSwap(p.Memory),
		oci.WithPidsLimit(c.cfg.PidsLimit),
		oci.WithNoNewPrivileges,
		// containerd's default seccomp profile (Docker's), and no
		// capability at all, bounding set included: app processes and
		// builds run as the app user and need none, and a setuid binary
		// in a base or an app cannot give them one back.
		seccomp.WithDefaultProfile(),
		oci.WithCapabilities(nil),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: p.Netns}),
		c.withCgroup(),
	}
	if c.apparmor {
		opts = append(opts, capparmor.WithProfile(apparmorProfile))
	}
	if p.CPU > 0 {
		const period = 100000
		opts = append(opts, oci.WithCPUCFS(int64(p.CPU*period), period))
	}
	if p.Background {
		opts = append(opts, oci.WithCPUShares(102)) // cgroup v2: weight 4, against 100
	}
	if p.User != "" {
		opts = append(opts, oci.WithUser(p.User), oci.WithAdditionalGIDs(p.User))
	}
	if p.Cwd != "" {
		opts = append(opts, oci.WithProcessCwd(p.Cwd))
	}
	if p.ProtectSystem {
		opts = append(opts, withReadonlyPaths(systemPaths))
	}
	if p.TTY != nil {
		opts = append(opts, oci.WithTTY)
		if p.TTY.Width > 0 && p.TTY.Height > 0 && p.TTY.Width <= 10000 && p.TTY.Height <= 10000 {
			opts = append(opts, oci.WithTTYSize(p.TTY.Width, p.TTY.Height))
		}
	}
	if p.Hostname != "" {
		opts = append(opts, oci.WithHostname(p.Hostname))
	}
	if p.ShimGroup != "" {
		opts = append(opts, oci.WithAnnotations(map[string]string{shimGroupAnnotation: p.ShimGroup}))
	}
	return opts
}

// systemPaths are the directories of a base an app process cannot write,
// whatever user it runs as. The rest of its root is writable, as on Heroku
// and Dokku: /app, /var/tmp, /home. Writes land in the container's own
// snapshot and vanish with it, at the next restart or release. runc
// skips paths a base lacks and leaves mounts under them (volumes) as
// they are.
var systemPaths = []string{"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/boot", "/var/lib"}

// withReadonlyPaths adds paths to the spec's read-only paths.
func withReadonlyPaths(paths []string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, paths...)
		return nil
	}
}

// withNoSwap caps memory+swap at the memory limit, so a process cannot spill
// past its limit into swap (Raspberry Pi OS enables a swap file). It does
// nothing where the host has no swap or the kernel does not account it,
// where setting it would make the container fail to start.
func withNoSwap(limit int64) oci.SpecOpts {
	return func(ctx context.Context, c oci.Client, ctr *containers.Container, s *specs.Spec) error {
		if !swapActive() {
			return nil
		}
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil { // cgroup v1
			if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err != nil {
				return nil
			}
		}
		return oci.WithMemorySwap(limit)(ctx, c, ctr, s)
	}
}

func swapActive() bool {
	b, err := os.ReadFile("/proc/swaps")
	if err != nil {
		return false
	}
	return len(strings.Split(strings.TrimSpace(string(b)), "\n")) > 1
}

// shellArgs runs an app's command line with /bin/sh. A simple command (one
// program and its arguments, no operators, redirections or assignments in
// front) is exec'd by the shell once it has expanded $VARS, so no shell
// stays behind as each process's parent: one process less per instance,
// and signals reach the app itself.
func shellArgs(command string) []string {
	if simpleCommand(command) {
		return []string{"/bin/sh", "-c", "exec " + command}
	}
	return []string{"/bin/sh", "-c", command}
}

func simpleCommand(command string) bool {
	f := strings.Fields(command)
	if len(f) == 0 || strings.ContainsAny(command, ";&|<>(){}`!\n\\#*?[~") || strings.Contains(f[0], "=") {
		return false
	}
	_, builtin := shellWords[f[0]]
	return !builtin
}

// shellWords are dash's builtins and keywords: they are not programs, so
// "exec" can't run them.
var shellWords = func() map[string]struct{} {
	set := map[string]struct{}{}
	for _, w := range strings.Fields(". : [ alias bg break cd chdir command continue echo eval exec exit export false fg " +
		"getopts hash jobs kill local printf pwd read readonly return set shift test times trap true type ulimit umask " +
		"unalias unset wait if then else elif fi do done case esac while until for in function select") {
		set[w] = struct{}{}
	}
	return set
}()

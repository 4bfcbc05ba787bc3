package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroup is the cgroup path of container id, under each hierarchy's root:
// /<CgroupParent>/<Namespace>/<id>, as withCgroup sets it.
func (c *Containerd) cgroup(id string) string {
	return filepath.Join("/", c.cfg.CgroupParent, c.cfg.Namespace, id)
}

// withCgroup puts the container's cgroup at c.cgroup(id): containerd's
// default path, under CgroupParent if one is set.
func (c *Containerd) withCgroup() oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, ctr *containers.Container, s *specs.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.CgroupsPath = c.cgroup(ctr.ID)
		return nil
	}
}

var cgroupParentPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)

// ValidCgroupParent says what is wrong with parent as Config.CgroupParent:
// a relative path of plain names ("" for none).
func ValidCgroupParent(parent string) error {
	p := strings.Trim(parent, "/")
	if parent == "" {
		return nil
	}
	if !cgroupParentPattern.MatchString(p) || strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./") {
		return fmt.Errorf("cgroup parent %q: want a path of names such as pier or pier/apps (letters, digits, . _ -)", parent)
	}
	return nil
}

package runtime

import (
	capparmor "github.com/containerd/containerd/contrib/apparmor"
	"github.com/containerd/containerd/pkg/apparmor"
)

// apparmorProfile is the AppArmor profile pier's containers run under
// where the host has AppArmor: containerd's default (Docker's), which
// keeps a process from mounting, from writing /proc and /sys and from
// tracing processes of other profiles, on top of seccomp and the empty
// capability set.
const apparmorProfile = "pier-default"

// loadAppArmor loads apparmorProfile if the host has AppArmor (the kernel
// module enabled and apparmor_parser installed) and says whether
// containers can use it. Where it cannot be loaded, containers run
// without, and the log says why.
func (c *Containerd) loadAppArmor() bool {
	if !apparmor.HostSupports() {
		c.log.Info("AppArmor is not available on this host; containers rely on seccomp and no capabilities")
		return false
	}
	if err := capparmor.LoadDefaultProfile(apparmorProfile); err != nil {
		c.log.Warn("AppArmor profile not loaded; containers run without it", "profile", apparmorProfile, "err", err)
		return false
	}
	return true
}

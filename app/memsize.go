package app

// Memory sizes and the bounds of resource limits, as resource:limit, the
// daemon's --memory flag and SetLimits read and check them.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Bounds of a memory limit and a CPU limit. A limit of 0 means none (the
// defaults apply); any other must lie within them.
const (
	MinMemoryMiB = 16
	MaxMemoryMiB = 64 << 10 // 64 GiB
	MaxCPU       = 64       // cores
)

// memoryUnits are the units ParseMemory knows, upper-cased, longest first
// where one ends another.
var memoryUnits = []struct {
	suffix string
	mib    float64
}{{"GIB", 1024}, {"GB", 1024}, {"G", 1024}, {"MIB", 1}, {"MB", 1}, {"M", 1}}

// ParseMemory reads a memory size and returns it in MiB: a number of MiB
// ("512") or a number with a unit, M, MB or MiB for MiB and G, GB or GiB for
// GiB, in any case and with or without space between ("512M", "1.5g",
// "1 GiB"). The number is what strconv.ParseFloat reads; it may not be
// negative, infinite or NaN. Fractions are kept (".5G" is 512): whether a
// fraction of a MiB, 0 or a size out of bounds is acceptable is the
// caller's to say.
func ParseMemory(s string) (mib float64, err error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, unit := range memoryUnits {
		if strings.HasSuffix(u, unit.suffix) {
			u, mult = strings.TrimSuffix(u, unit.suffix), unit.mib
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q: want a size like 512M or 1G", s)
	}
	return f * mult, nil
}

// validate checks l against the bounds of limits.
func (l Limits) validate() error {
	if l.MemoryMiB != 0 && (l.MemoryMiB < MinMemoryMiB || l.MemoryMiB > MaxMemoryMiB) {
		return fmt.Errorf("memory limit %d MiB is out of range: want %d to %d", l.MemoryMiB, MinMemoryMiB, MaxMemoryMiB)
	}
	if !(l.CPU >= 0 && l.CPU <= MaxCPU) { // NaN too
		return fmt.Errorf("cpu limit %g is out of range: want up to %d cores", l.CPU, MaxCPU)
	}
	return nil
}

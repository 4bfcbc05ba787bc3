package app

import "context"

// Usage reports what an instance uses of the machine; the runtime
// implements it.
type Usage interface {
	// InstanceMemory returns the memory (bytes) an instance's processes
	// use now; ok is false if it is not known (e.g. not running).
	InstanceMemory(id string) (bytes int64, ok bool)
}

// Memory returns the memory an app's instances use now, in bytes, summed
// over the instances whose use is known; ok is false if none is known
// (nothing runs, or no Usage was given).
func (s *Service) Memory(ctx context.Context, name string) (bytes int64, ok bool) {
	if s.usage == nil || ValidName(name) != nil {
		return 0, false
	}
	for _, in := range s.instancesOf(ctx, name, func(in Instance) bool { return in.Running }) {
		if n, known := s.usage.InstanceMemory(in.ID); known {
			bytes += n
			ok = true
		}
	}
	return bytes, ok
}

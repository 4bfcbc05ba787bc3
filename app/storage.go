package app

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

var volumeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// systemPaths may not be volume targets: they belong to the base image or
// the runtime.
var systemPaths = []string{"/", "/app", "/bin", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var"}

// ParseMount parses a storage:mount argument, NAME:/path. The path is
// absolute and clean, outside systemPaths, and has no ':', ',' or control
// characters: it goes into the container's mount table and back to the
// admin in listings.
func ParseMount(arg string) (Volume, error) {
	name, p, ok := strings.Cut(arg, ":")
	if !ok {
		return Volume{}, fmt.Errorf("%q: want NAME:/path, e.g. data:/data", trim(arg))
	}
	if !volumeName.MatchString(name) {
		return Volume{}, fmt.Errorf("volume name %q: use lowercase letters, digits, dashes and underscores", trim(name))
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsAny(p, ":,") || strings.ContainsFunc(p, isControl) {
		return Volume{}, fmt.Errorf("mount path %q: want an absolute, clean path of printable characters, such as /data", trim(p))
	}
	for _, sys := range systemPaths {
		if p == sys || sys != "/" && sys != "/app" && strings.HasPrefix(p, sys+"/") {
			return Volume{}, fmt.Errorf("mount path %q: %s belongs to the system; use e.g. /data or /app/uploads", trim(p), sys)
		}
	}
	return Volume{Name: name, Path: p}, nil
}

// Mount adds a persistent volume to an app. It is mounted into processes
// started from then on: run ps:restart to mount it into running ones.
func (s *Service) Mount(ctx context.Context, name string, v Volume) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	for _, have := range a.Volumes {
		if have.Name == v.Name {
			return fmt.Errorf("%s already mounts volume %s at %s", name, v.Name, have.Path)
		}
		if have.Path == v.Path {
			return fmt.Errorf("%s already mounts volume %s at %s", name, have.Name, v.Path)
		}
	}
	return s.apply(ctx, SetVolumes{App: name, Volumes: append(a.Volumes, v)})
}

// Unmount removes a volume from an app; its data stays on disk.
func (s *Service) Unmount(ctx context.Context, name, volume string) error {
	a, unlock, err := s.locked(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	var kept []Volume
	for _, v := range a.Volumes {
		if v.Name != volume {
			kept = append(kept, v)
		}
	}
	if len(kept) == len(a.Volumes) {
		return NotFoundf("%s has no volume %q", name, volume)
	}
	return s.apply(ctx, SetVolumes{App: name, Volumes: kept})
}

// Volumes lists an app's volumes.
func (s *Service) Volumes(ctx context.Context, name string) ([]Volume, error) {
	a, err := s.App(ctx, name)
	if err != nil {
		return nil, err
	}
	return a.Volumes, nil
}

// OrphanVolumes are the volumes of an app that no longer exists: set
// aside when it was destroyed (Destroyed), or left from before pier set
// them aside (Destroyed zero).
type OrphanVolumes struct {
	ID        string    `json:"id"` // what storage:purge takes
	App       string    `json:"app"`
	Destroyed time.Time `json:"destroyed,omitzero"`
	Path      string    `json:"path"`
	Volumes   []string  `json:"volumes"`
	Bytes     int64     `json:"bytes"` // negative: at least that much (too many files to count)
}

// VolumeKeeper keeps the volumes of destroyed apps on disk (the runtime).
type VolumeKeeper interface {
	OrphanVolumes(exists func(app string) bool) ([]OrphanVolumes, error)
	RemoveOrphanVolumes(id string, exists func(app string) bool) error
}

// Orphans lists the volumes no app uses any more.
func (s *Service) Orphans(ctx context.Context) ([]OrphanVolumes, error) {
	if s.volumes == nil {
		return nil, nil
	}
	exists, err := s.appExists(ctx)
	if err != nil {
		return nil, err
	}
	return s.volumes.OrphanVolumes(exists)
}

// PurgeOrphan deletes the orphaned volumes id names, with their data.
func (s *Service) PurgeOrphan(ctx context.Context, id string) error {
	if s.volumes == nil {
		return fmt.Errorf("no orphaned volumes %q: %w", id, ErrNotFound)
	}
	exists, err := s.appExists(ctx)
	if err != nil {
		return err
	}
	return s.volumes.RemoveOrphanVolumes(id, exists)
}

// appExists returns whether an app of a name exists now.
func (s *Service) appExists(ctx context.Context) (func(string) bool, error) {
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, a := range apps {
		names[a.Name] = true
	}
	return func(n string) bool { return names[n] }, nil
}

// isControl reports whether r is an ASCII control character (NUL, newline,
// escape, DEL, ...).
func isControl(r rune) bool { return r < ' ' || r == 0x7f }

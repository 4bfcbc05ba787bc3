package app

import (
	"path"
	"strings"
	"testing"
)

// storage:mount's NAME:/path gives an error or a volume whose name is safe
// as a directory name and whose path is absolute, clean, printable and
// outside the system's directories; the volume reads back the same from
// its own NAME:/path.
func FuzzParseMount(f *testing.F) {
	for _, s := range []string{
		"data:/data", "uploads:/app/uploads", "db_1:/var/lib/postgresql", "data", "Data:/data",
		"data:data", "data:/data/../etc", "data:/etc", "data:/etc/ssl", "data:/app", "data:/",
		"data:/data:ro", "data:/a,b", "-data:/data", "data:/data/", "data:/proc/self",
		"d:/srv/\x00x", "d:/srv/a\nb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		v, err := ParseMount(arg)
		if err != nil {
			if v != (Volume{}) {
				t.Fatalf("error %v with %+v", err, v)
			}
			checkMessage(t, "error", err.Error())
			return
		}
		if !volumeName.MatchString(v.Name) || strings.ContainsAny(v.Name, "/.") {
			t.Fatalf("%q: volume name %q", arg, v.Name)
		}
		p := v.Path
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsAny(p, ":,") ||
			strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("%q: mount path %q", arg, p)
		}
		for _, sys := range systemPaths {
			if p == sys || sys != "/" && sys != "/app" && strings.HasPrefix(p, sys+"/") {
				t.Fatalf("%q: mount path %q is under %s", arg, p, sys)
			}
		}
		if again, err := ParseMount(v.Name + ":" + v.Path); err != nil || again != v {
			t.Fatalf("%q: %+v reads back as %+v, %v", arg, v, again, err)
		}
	})
}

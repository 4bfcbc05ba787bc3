package builder

import (
	"os"
)

// siteDirs are where a static site's index.html is looked for, in order:
// public/ (plain sites, Hugo's output), dist/ (Vite, Parcel, Astro and most
// bundlers' output), then the top of the repository.
var siteDirs = []string{"public", "dist", "."}

// siteDir returns the directory under appDir (relative, "." for appDir
// itself) that a static site is served from: the first of siteDirs that
// is a real directory (not a symbolic link) holding an index.html file.
// ok is false if there is none. Everything is looked up through an os.Root,
// so links in the source cannot point the check outside appDir.
func siteDir(appDir string) (dir string, ok bool) {
	root, err := os.OpenRoot(appDir)
	if err != nil {
		return "", false
	}
	defer root.Close()
	for _, d := range siteDirs {
		if d != "." {
			fi, err := root.Lstat(d)
			if err != nil || !fi.IsDir() {
				continue
			}
		}
		// As the router will: links in the site may not leave it.
		site, err := root.OpenRoot(d)
		if err != nil {
			continue
		}
		fi, err := site.Stat("index.html")
		site.Close()
		if err == nil && fi.Mode().IsRegular() {
			return d, true
		}
	}
	return "", false
}

// siteLabel is how the push output names a served directory.
func siteLabel(dir string) string {
	if dir == "." {
		return "the top of the repository"
	}
	return dir + "/"
}

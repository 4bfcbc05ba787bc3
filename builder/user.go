package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"pier/app"
	"pier/runtime"
)

// appUser is the user a build of req runs as and its files belong to: the
// app's own (app.App.UID), so that no two apps share one; the base's app
// user for a request that names none.
func appUser(req app.BuildRequest) (uid, gid int) {
	if req.UID > 0 {
		return req.UID, req.UID
	}
	return runtime.AppUID, runtime.AppGID
}

func userSpec(uid, gid int) string { return fmt.Sprintf("%d:%d", uid, gid) }

// userName is the name the app's user has in its image, whatever its ID.
const userName = "app"

// nameUser gives the name userName to uid and gid in root's /etc/passwd and
// /etc/group, so that a process asking who it is (whoami, Node's
// os.userInfo, Python's getpass) gets an answer: the base's entry is
// changed, or one is added. The files are written into the workspace's
// own layer; the base is not touched.
func nameUser(root string, uid, gid int) error {
	err := editEntries(filepath.Join(root, "etc", "passwd"), func(f []string) []string {
		if len(f) >= 7 {
			f[2], f[3] = strconv.Itoa(uid), strconv.Itoa(gid)
		}
		return f
	}, fmt.Sprintf("%s:x:%d:%d::/app:/bin/sh", userName, uid, gid))
	if err != nil {
		return err
	}
	return editEntries(filepath.Join(root, "etc", "group"), func(f []string) []string {
		if len(f) >= 4 {
			f[2] = strconv.Itoa(gid)
		}
		return f
	}, fmt.Sprintf("%s:x:%d:", userName, gid))
}

// editEntries rewrites the userName line of a colon-separated file with
// edit, or appends line if it has none. A file that is not a regular file
// (a symlink could point out of the workspace) is refused.
func editEntries(path string, edit func([]string) []string, line string) error {
	if fi, err := os.Lstat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("the base has no /etc directory: %v", err)
	}
	var text string
	fi, err := os.Lstat(path)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s in the base is not a regular file", path)
	default:
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text = string(b)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	found := false
	for i, l := range lines {
		f := strings.Split(l, ":")
		if f[0] == userName {
			lines[i], found = strings.Join(edit(f), ":"), true
		}
	}
	if !found {
		lines = append(lines, line)
	}
	tmp := path + ".pier"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

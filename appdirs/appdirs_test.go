package appdirs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pier/appdirs"
)

func TestRenameAndRemove(t *testing.T) {
	d := appdirs.Dirs{Dir: t.TempDir(), Suffix: ".git"}
	if err := os.MkdirAll(filepath.Join(d.Path("hello"), "hooks"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d.Path("taken"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"the new name has a directory", "hello", "taken", "exists already"},
		{"an invalid name", "hello", "../x", "invalid"},
		{"no directory to move", "ghost", "spirit", ""},
		{"a move", "hello", "greeter", ""},
		{"a move done already", "hello", "greeter", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.RenameFiles(tc.from, tc.to)
			if got := errString(err); tc.want == "" && err != nil || !strings.Contains(got, tc.want) {
				t.Errorf("RenameFiles(%q, %q) = %q, want %q", tc.from, tc.to, got, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(d.Path("greeter"), "hooks")); err != nil {
		t.Errorf("after the move: %v", err)
	}
	if _, err := os.Lstat(d.Path("spirit")); !os.IsNotExist(err) {
		t.Errorf("a move of nothing made %s: %v", d.Path("spirit"), err)
	}
	if err := d.RemoveFiles("greeter"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(d.Path("greeter")); !os.IsNotExist(err) {
		t.Errorf("after RemoveFiles: %v", err)
	}
	if err := d.RemoveFiles("../taken"); err == nil {
		t.Error("RemoveFiles of an invalid name succeeded")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

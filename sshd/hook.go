package sshd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// PreReceive is the body of "pier hook pre-receive", which git receive-pack
// runs in the repository (its working directory) with the daemon's
// environment: PIER_APP, PIER_USER, PIER_SOCKET, optionally PIER_TMP, and
// git's quarantine variables, which reach "git archive" through os.Environ.
//
// It reads git's "<old> <new> <ref>" lines from stdin. A push to
// refs/heads/main or refs/heads/master exports that revision's tree into a
// temporary directory (under PIER_TMP, else os.TempDir) and asks the daemon
// to deploy it ("receive APP REV DIR USER" over the socket), streaming the
// build output to stdout, which git shows the pusher as "remote:" lines.
// Deleting main or master is refused; other branches are stored without a
// deploy. It returns the exit code: non-zero rejects the whole push and git
// leaves every ref unchanged.
func PreReceive(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	appName, user, socket := getenv("PIER_APP"), getenv("PIER_USER"), getenv("PIER_SOCKET")
	if appName == "" || socket == "" {
		fmt.Fprintln(stderr, "pier: the pre-receive hook runs under the pier daemon only (PIER_APP and PIER_SOCKET are not set)")
		return 1
	}
	if user == "" {
		user = "unknown"
	}

	type update struct{ rev, ref string }
	var deploys []update
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			fmt.Fprintf(stderr, "pier: unexpected pre-receive input %.100q\n", sc.Text())
			return 1
		}
		rev, ref := f[1], f[2]
		branch, ok := strings.CutPrefix(ref, "refs/heads/")
		switch {
		case !ok:
			// tags and other refs: stored as pushed
		case branch == "main" || branch == "master":
			if isZeroID(rev) {
				fmt.Fprintln(stderr, "pier: deleting the deploy branch is not supported")
				return 1
			}
			deploys = append(deploys, update{rev, ref})
		case !isZeroID(rev):
			fmt.Fprintf(stdout, "pier: branch %s stored; pier deploys main or master\n", branch)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "pier: read pre-receive input: %v\n", err)
		return 1
	}
	for _, d := range deploys {
		if err := checkTreeSize(ctx, d.rev, getenv("PIER_MAX_SOURCE")); err != nil {
			fmt.Fprintf(stderr, "pier: %v\n", err)
			return 1
		}
		if code := deployRev(ctx, d.rev, appName, user, socket, getenv("PIER_TMP"), stdout, stderr); code != 0 {
			return code
		}
	}
	return 0
}

// maxSourceFiles bounds the files (and links) of a revision pier deploys.
// A var so that tests can lower it.
var maxSourceFiles int64 = 200_000

// checkTreeSize refuses a revision whose files add up to more than max
// bytes (a decimal number; "" for no limit) or number more than
// maxSourceFiles, before anything is written out: a small pack can hold a
// large tree.
func checkTreeSize(ctx context.Context, rev, max string) error {
	limit, err := strconv.ParseInt(max, 10, 64)
	if max == "" || err != nil || limit <= 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, "git", "ls-tree", "-r", "-l", "-z", "--full-tree", rev)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("list %s: %w", rev, err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var size, files int64
	r := bufio.NewReader(out)
	for {
		entry, err := r.ReadString(0)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", rev, err)
		}
		// "<mode> <type> <object> <size>\t<path>"
		meta, _, _ := strings.Cut(entry, "\t")
		if f := strings.Fields(meta); len(f) == 4 {
			n, _ := strconv.ParseInt(f[3], 10, 64) // "-" for a submodule
			size += n
		}
		files++
		if size > limit || files > maxSourceFiles {
			return fmt.Errorf("the pushed revision holds more than %s or %d files, more than pier deploys (4 times pier serve --max-push); nothing was changed", sizeText(limit), maxSourceFiles)
		}
	}
	return nil
}

func isZeroID(rev string) bool { return strings.Trim(rev, "0") == "" }

// deployRev exports rev into a fresh directory, has the daemon deploy it,
// and removes the directory afterwards.
func deployRev(ctx context.Context, rev, appName, user, socket, tmp string, stdout, stderr io.Writer) int {
	dir, err := os.MkdirTemp(tmp, "pier-"+appName+"-")
	if err != nil {
		fmt.Fprintf(stderr, "pier: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := exportTree(ctx, "", rev, dir, stderr); err != nil {
		fmt.Fprintf(stderr, "pier: export %s: %v\n", rev, err)
		return 1
	}
	code, err := Exec(ctx, socket, []string{"receive", appName, rev, dir, user}, nil, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pier: %v\n", err)
		return 1
	}
	return code
}

// exportTree writes the tree of rev of the repository repo (the working
// directory's if "") into dir: git archive | tar -x.
func exportTree(ctx context.Context, repo, rev, dir string, stderr io.Writer) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "archive", "--format=tar", rev)
	archive.Dir = repo
	archive.Stdout = w
	archive.Stderr = stderr
	untar := exec.CommandContext(ctx, "tar", "-x", "-f", "-", "-C", dir)
	untar.Stdin = r
	untar.Stderr = stderr

	if err := untar.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start tar: %w", err)
	}
	r.Close()
	archErr := archive.Run()
	w.Close() // tar sees EOF even if git never started
	untarErr := untar.Wait()
	if archErr != nil {
		return fmt.Errorf("git archive: %w", archErr)
	}
	if untarErr != nil {
		return fmt.Errorf("tar: %w", untarErr)
	}
	return nil
}

package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseStartupPages drops this process's mappings of its own read-only
// code and data (the executable's text and rodata) once start-up is over.
// Start-up runs every package's initialisation, scattered over the whole
// binary, and the kernel maps each touched page's neighbours with it, so
// that most of a 30 MB executable stays mapped although a serving pier
// runs a small part of it. The pages stay in the page cache: those still
// used are mapped again at their next use, at the cost of a minor fault,
// and the rest can be reclaimed under memory pressure like any unmapped
// cache. Only mappings that hold the file's bytes unchanged (private, of
// the executable file, not writable, no anonymous page) are dropped; it
// returns the bytes they spanned.
func releaseStartupPages() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var dropped int64
	type mapping struct{ start, end uint64 }
	var cur *mapping // the executable's read-only mapping being read, or nil
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && len(fields) >= 5 {
			// A mapping's header: start-end perms offset dev inode [path].
			cur = nil
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			perms := fields[1]
			if err1 == nil && err2 == nil && end > start && len(fields) >= 6 && fields[5] == exe &&
				len(perms) == 4 && perms[1] == '-' && perms[3] == 'p' {
				cur = &mapping{start, end}
			}
			continue
		}
		// A page of it that differs from the file (relocations the
		// dynamic loader wrote before making it read-only: a binary
		// linked with cgo) shows as anonymous. Such a mapping is kept
		// whole: dropping it would bring the file's unrelocated page back.
		if cur != nil && fields[0] == "Anonymous:" && len(fields) >= 2 && fields[1] == "0" {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(cur.start), uintptr(cur.end-cur.start), unix.MADV_DONTNEED); errno == 0 {
				dropped += int64(cur.end - cur.start)
			}
			cur = nil
		}
	}
	return dropped
}

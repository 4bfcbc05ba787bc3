// Package scripts embeds the shell recipes pier runs itself.
package scripts

import _ "embed"

// MkBase builds the default base root filesystem: `bash -c MkBase mkbase ROOTFS`.
//
//go:embed mkbase.sh
var MkBase string

package app

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Node labels say what a machine of a cluster offers (pier serve
// --node-labels disk=ssd,zone=attic); an app's pier.node_labels in
// app.json names the labels a machine needs to run it. They are few and
// short: they travel in every machine's gossip.
const (
	MaxNodeLabels     = 8
	maxLabelKeyLen    = 32
	maxLabelValueLen  = 32
	labelKeyPattern   = `^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`
	labelValuePattern = `^[A-Za-z0-9._-]+$`
)

var (
	labelKeyRE   = regexp.MustCompile(labelKeyPattern)
	labelValueRE = regexp.MustCompile(labelValuePattern)
)

// ValidNodeLabels checks a set of node labels: at most MaxNodeLabels, keys
// of lowercase letters, digits, '.', '_' and '-' (up to 32, starting and
// ending with a letter or digit), values of letters, digits, '.', '_' and
// '-' (1 to 32).
func ValidNodeLabels(labels map[string]string) error {
	if len(labels) > MaxNodeLabels {
		return fmt.Errorf("%d node labels: at most %d", len(labels), MaxNodeLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		v := labels[k]
		if len(k) > maxLabelKeyLen || !labelKeyRE.MatchString(k) {
			return fmt.Errorf("node label %q: a key is up to %d lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit", trim(k), maxLabelKeyLen)
		}
		if len(v) > maxLabelValueLen || !labelValueRE.MatchString(v) {
			return fmt.Errorf("node label %s=%q: a value is 1 to %d letters, digits, '.', '_' or '-'", k, trim(v), maxLabelValueLen)
		}
	}
	return nil
}

// ParseNodeLabels reads "disk=ssd,zone=attic" (empty: none).
func ParseNodeLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return labels, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("node label %q: want key=value, as in disk=ssd", kv)
		}
		if _, dup := labels[k]; dup {
			return nil, fmt.Errorf("node label %s given twice", k)
		}
		labels[k] = v
	}
	if err := ValidNodeLabels(labels); err != nil {
		return nil, err
	}
	return labels, nil
}

// HasLabels reports whether a machine with labels offers every label of
// want.
func HasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// FormatLabels is labels as "disk=ssd,zone=attic", sorted; "" for none.
func FormatLabels(labels map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		kv = append(kv, k+"="+labels[k])
	}
	return strings.Join(kv, ",")
}

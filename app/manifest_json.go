package app

// Small readers of encoding/json's raw values that report errors by key
// path, for the app.json parser.

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// jsonKind classifies a JSON value by its first byte: '{', '[', '"', 'n' (null),
// 'b' (true or false) or '0' (a number).
func jsonKind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case '{', '[', '"', 'n':
		return c
	case 't', 'f':
		return 'b'
	}
	return '0'
}

// jsonDescribe says what a value is, for "got ..." in errors.
func jsonDescribe(raw json.RawMessage) string {
	switch jsonKind(raw) {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return strconv.Quote(trim(s))
	}
	return trim(string(bytes.TrimSpace(raw))) // a number, true, false or null
}

// jsonBlank reports whether raw is null, false, 0, "", [] or {}.
func jsonBlank(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// jsonObject decodes raw as a JSON object with arbitrary keys; null members are
// dropped, as if absent.
func jsonObject(path string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	if jsonKind(raw) != '{' {
		return nil, manifestTypeError(path, "an object", raw)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, manifestError(path, "%v", err)
	}
	maps.DeleteFunc(all, func(_ string, v json.RawMessage) bool { return jsonKind(v) == 'n' })
	return all, nil
}

// jsonFields decodes raw as a JSON object with the fixed keys known, which match
// case-insensitively (an exact spelling wins). Null members count as absent.
// The keys that match nothing come back sorted in unknown.
func jsonFields(path string, raw json.RawMessage, known []string) (f map[string]json.RawMessage, unknown []string, err error) {
	all, err := jsonObject(path, raw)
	if err != nil {
		return nil, nil, err
	}
	f = map[string]json.RawMessage{}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		name := k
		if !slices.Contains(known, k) {
			i := slices.IndexFunc(known, func(kn string) bool { return strings.EqualFold(k, kn) })
			if i < 0 {
				unknown = append(unknown, k)
				continue
			}
			if name = known[i]; all[name] != nil {
				continue // the exact spelling is there too
			}
		}
		f[name] = all[k]
	}
	return f, unknown, nil
}

func jsonArray(path string, raw json.RawMessage, want string) ([]json.RawMessage, error) {
	if jsonKind(raw) != '[' {
		return nil, manifestTypeError(path, want, raw)
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, manifestError(path, "%v", err)
	}
	return a, nil
}

func jsonString(path string, raw json.RawMessage) (string, error) {
	if jsonKind(raw) != '"' {
		return "", manifestTypeError(path, "a string", raw)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", manifestError(path, "%v", err)
	}
	return s, nil
}

func jsonBool(path string, raw json.RawMessage) (bool, error) {
	if jsonKind(raw) != 'b' {
		return false, manifestTypeError(path, "true or false", raw)
	}
	return bytes.Equal(bytes.TrimSpace(raw), []byte("true")), nil
}

// jsonFloat reads a JSON number; one too large for float64 reads as ±Inf.
func jsonFloat(raw json.RawMessage) float64 {
	f, _ := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	return f
}

// jsonWhole reads an integer from lo to hi ("3" and "3.0" both count).
func jsonWhole(path string, raw json.RawMessage, lo, hi int) (int, error) {
	if jsonKind(raw) != '0' {
		return 0, manifestTypeError(path, "a whole number", raw)
	}
	f := jsonFloat(raw)
	if f != math.Trunc(f) {
		return 0, manifestTypeError(path, "a whole number", raw)
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, manifestError(path, "want a whole number from %d to %d, got %s", lo, hi, jsonDescribe(raw))
	}
	return int(f), nil
}

// jsonOptionalWhole is jsonWhole for settings where 0 means "not set".
func jsonOptionalWhole(path string, raw json.RawMessage, lo, hi int) (int, error) {
	if jsonKind(raw) == '0' && jsonFloat(raw) == 0 {
		return 0, nil
	}
	return jsonWhole(path, raw, lo, hi)
}

// suggestKey returns the known key k is likely a misspelling of, or "".
func suggestKey(k string, known []string) string {
	for _, kn := range known {
		if d := editDistance(strings.ToLower(k), strings.ToLower(kn)); d <= max(1, len(kn)/5) {
			return kn
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

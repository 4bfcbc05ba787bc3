package app

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "hello", true},
		{"digits and dashes", "my-app-2", true},
		{"single char", "a", true},
		{"leading digit", "9lives", true},
		{"max length", strings.Repeat("a", 63), true},
		{"too long", strings.Repeat("a", 64), false},
		{"empty", "", false},
		{"upper case", "Hello", false},
		{"underscore", "my_app", false},
		{"dot", "my.app", false},
		{"slash", "a/b", false},
		{"parent dir", "..", false},
		{"path trick", "../etc", false},
		{"leading dash", "-app", false},
		{"trailing dash", "app-", false},
		{"space", "my app", false},
		{"unicode", "héllo", false},
		{"nul", "a\x00b", false},
		{"git suffix", "hello.git", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidName(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

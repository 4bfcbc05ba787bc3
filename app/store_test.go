package app_test

import (
	"path/filepath"
	"testing"

	"pier/store"
)

// openStore is a new store of the test's own, closed at its end.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

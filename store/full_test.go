package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"pier/app"
)

// A change on a full disk fails saying so and what to do, and changes
// nothing; once there is room the store works on.
func TestFullDiskSaysSo(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustApply(t, s, app.CreateApp{App: app.App{Name: "web", CreatedAt: t0}})
	s.db.SetMaxOpenConns(1) // the page cap below is the connection's
	var pages int
	if err := s.db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = s.Apply(ctx, app.CreateApp{App: app.App{Name: fmt.Sprintf("app%d", i), CreatedAt: t0, Domains: []string{big}}})
	}
	if err == nil || !strings.Contains(err.Error(), "disk holding pier's database is full") ||
		!strings.Contains(err.Error(), "free space") {
		t.Fatalf("on a full database: %v", err)
	}
	if _, err := s.db.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, app.CreateApp{App: app.App{Name: "after", CreatedAt: t0}})
}

package store

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"pier/app"
	"slices"
	"testing"
	"time"
)

func TestCertStorageValues(t *testing.T) {
	ctx := context.Background()
	c := openTest(t).Certs()
	for k, v := range map[string]string{
		"acme/ca/users/a@b/a@b.json":                              "account",
		"certificates/ca/hello.example.com/hello.example.com.crt": "crt",
		"certificates/ca/hello.example.com/hello.example.com.key": "key",
		"certificates/ca/www.example.com/www.example.com.crt":     "crt2",
		"certificatesx": "not under certificates/",
	} {
		if err := c.Store(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Store(ctx, "certificatesx", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Load(ctx, "certificatesx"); err != nil || string(got) != "replaced" {
		t.Fatalf("Load after overwrite: got %q, %v, want %q", got, err, "replaced")
	}
	if _, err := c.Load(ctx, "certificates/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: got %v, want fs.ErrNotExist", err)
	}

	got, err := c.List(ctx, "certificates", false)
	want := []string{"certificates/ca"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("List: got %q, %v, want %q", got, err, want)
	}
	got, _ = c.List(ctx, "certificates/ca", false)
	want = []string{"certificates/ca/hello.example.com", "certificates/ca/www.example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("List one level: got %q, want %q", got, want)
	}
	got, _ = c.List(ctx, "certificates", true)
	want = []string{"certificates/ca", "certificates/ca/hello.example.com",
		"certificates/ca/hello.example.com/hello.example.com.crt", "certificates/ca/hello.example.com/hello.example.com.key",
		"certificates/ca/www.example.com", "certificates/ca/www.example.com/www.example.com.crt"}
	if !slices.Equal(got, want) {
		t.Fatalf("List recursive: got %q, want %q", got, want)
	}

	info, err := c.Stat(ctx, "certificates/ca/www.example.com/www.example.com.crt")
	if err != nil || !info.IsTerminal || info.Size != 4 || time.Since(info.Modified) > time.Minute {
		t.Fatalf("Stat of a value: %+v, %v", info, err)
	}
	if info, err := c.Stat(ctx, "certificates/ca"); err != nil || info.IsTerminal {
		t.Fatalf("Stat of a directory: %+v, %v", info, err)
	}
	if _, err := c.Stat(ctx, "certificates/c"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat of a key prefix that is no directory: %v", err)
	}
	if !c.Exists(ctx, "acme") || c.Exists(ctx, "acm") {
		t.Fatal("Exists: directory acme not found, or prefix acm found")
	}

	if err := c.Delete(ctx, "certificates/ca/hello.example.com"); err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, "certificates/ca/hello.example.com/hello.example.com.key") {
		t.Fatal("Delete of a directory left its keys")
	}
	if !c.Exists(ctx, "certificates/ca/www.example.com/www.example.com.crt") || !c.Exists(ctx, "certificatesx") {
		t.Fatal("Delete removed keys outside the directory")
	}
	if err := c.Delete(ctx, "nothing/here"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

// Values survive reopening the database: certificates move with the state.
func TestCertStoragePersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Certs().Store(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Certs().Load(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("after reopening: %q, %v", got, err)
	}
}

func TestCertStorageLocks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a, b := s.Certs(), s.Certs() // two holders, as two pier nodes would be
	if err := a.Lock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	before, _ := s.AppliedIndex(ctx)
	if ok, err := b.TryLock(ctx, "issue_cert_x"); ok || err != nil {
		t.Fatalf("TryLock of a held lock: %v, %v", ok, err)
	}
	if after, _ := s.AppliedIndex(ctx); after != before {
		t.Errorf("TryLock of a held lock made %d changes; want none (a cluster's log would grow with every poll)", after-before)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_x") }()
	select {
	case err := <-got:
		t.Fatalf("Lock returned (%v) while another holds the lock", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := a.RenewLockLease(ctx, "issue_cert_x", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Lock did not get a released lock")
	}
	if err := a.Unlock(ctx, "issue_cert_x"); err == nil {
		t.Fatal("Unlock of a lock held by someone else succeeded")
	}
	b.Unlock(ctx, "issue_cert_x")

	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	a.Lock(ctx, "y")
	if err := b.Lock(cctx, "y"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with a context that ends: %v", err)
	}
}

// A holder that crashed stops renewing its lease; once it runs out, the lock
// is free.
func TestCertStorageLockOfCrashedHolderExpires(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO cert_locks (name, holder, expires) VALUES ('z', 'dead', ?)`,
		time.Now().Add(-time.Second).UnixNano()); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Certs().TryLock(ctx, "z"); !ok || err != nil {
		t.Fatalf("TryLock of an expired lock: %v, %v", ok, err)
	}
}

// Two machines of a cluster apply the same lock changes; whichever is
// applied first wins on both, and the other taker sees it lost.
func TestCertLockChangesDecideAlike(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	mustApply(t, s,
		app.TakeCertLock{Name: "l", Holder: "first", At: now, Until: now.Add(time.Minute)},
		app.TakeCertLock{Name: "l", Holder: "second", At: now, Until: now.Add(time.Minute)},
	)
	c := s.Certs()
	if h, _, err := c.lockHolder(ctx, "l"); err != nil || h != "first" {
		t.Fatalf("holder %q, %v; want first", h, err)
	}
	// Past the lease, as the change's own time says, the lock moves.
	mustApply(t, s, app.TakeCertLock{Name: "l", Holder: "second", At: now.Add(2 * time.Minute), Until: now.Add(3 * time.Minute)})
	if h, _, _ := c.lockHolder(ctx, "l"); h != "second" {
		t.Fatalf("holder %q after the lease ran out; want second", h)
	}
	mustApply(t, s, app.ReleaseCertLock{Name: "l", Holder: "first"})
	if h, _, _ := c.lockHolder(ctx, "l"); h != "second" {
		t.Fatalf("a release by a former holder freed the lock (holder %q)", h)
	}
}

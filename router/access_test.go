package router

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"pier/app"
)

// getFrom asks front for / as host from the loopback address src, with
// basic auth if user is set, and returns the status and the response.
func getFrom(t *testing.T, front, host, src, user, pass string, header http.Header) (int, *http.Response) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	req, _ := http.NewRequest("GET", "http://"+front+"/", nil)
	req.Host = host
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET from %s: %v", src, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp
}

func hash(t testing.TB, pass string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestAccessRules(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	var hits atomic.Int32
	r.Set("hello", []string{backendFunc(t, func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		w.Write([]byte("hello"))
	})})
	users := map[string]string{"alice": hash(t, "secret")}
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}

	r.SetAccess("hello", app.AccessRules{Auth: true, Users: users, Allow: allow})
	for _, tc := range []struct {
		name, src, user, pass string
		header                http.Header
		want                  int
	}{
		{"right password", "127.0.0.1", "alice", "secret", nil, 200},
		{"right password again (remembered)", "127.0.0.1", "alice", "secret", nil, 200},
		{"wrong password", "127.0.0.1", "alice", "nope", nil, 401},
		{"unknown user", "127.0.0.1", "bob", "secret", nil, 401},
		{"missing auth", "127.0.0.1", "", "", nil, 401},
		{"allowed address needs no password", "127.0.0.2", "", "", nil, 200},
		{"a forwarded-for header is not the client", "127.0.0.1", "", "", http.Header{"X-Forwarded-For": {"127.0.0.2"}, "X-Real-Ip": {"127.0.0.2"}}, 401},
	} {
		before := hits.Load()
		code, resp := getFrom(t, front, "hello.localhost", tc.src, tc.user, tc.pass, tc.header)
		if code != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, code, tc.want)
		}
		if code == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="hello", charset="UTF-8"` {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, resp.Header.Get("WWW-Authenticate"))
		}
		if reached := hits.Load() > before; reached != (tc.want == 200) {
			t.Errorf("%s: the app was reached: %v", tc.name, reached)
		}
	}

	r.SetAccess("hello", app.AccessRules{Allow: allow}) // allowlist only
	if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.1", "alice", "secret", nil); code != 403 {
		t.Errorf("a denied address: got %d, want 403", code)
	}
	if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.2", "", "", nil); code != 200 {
		t.Errorf("an allowed address: got %d, want 200", code)
	}

	r.SetAccess("hello", app.AccessRules{})
	if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.1", "", "", nil); code != 200 {
		t.Errorf("open again: got %d, want 200", code)
	}
}

// A password change takes effect at once, though the old one was
// remembered as verified.
func TestAccessRulesChangeForgetsVerified(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "old")}})
	if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.1", "alice", "old", nil); code != 200 {
		t.Fatalf("got %d", code)
	}
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "new")}})
	if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.1", "alice", "old", nil); code != 401 {
		t.Fatalf("the old password after a change: got %d, want 401", code)
	}
}

// A denied request does not wake a sleeping app and is not activity.
func TestDeniedRequestDoesNotWake(t *testing.T) {
	r := newRouter(t)
	r.Set("hello", nil)
	r.SetAsleep("hello", true)
	var wakes atomic.Int32
	r.OnWake(func(ctx context.Context, app string) error { wakes.Add(1); return nil })
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret")},
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})

	for _, set := range []func(*http.Request){
		func(*http.Request) {},
		func(req *http.Request) { req.SetBasicAuth("alice", "wrong") },
	} {
		req := httptest.NewRequest("GET", "http://hello.localhost/", nil) // from 192.0.2.1
		set(req)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != 401 {
			t.Errorf("got %d, want 401", w.Code)
		}
	}
	r.SetAccess("hello", app.AccessRules{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "http://hello.localhost/", nil))
	if w.Code != 403 {
		t.Errorf("got %d, want 403", w.Code)
	}
	if n := wakes.Load(); n != 0 {
		t.Errorf("denied requests woke the app %d times", n)
	}
	if n, last := r.Activity("hello"); n != 0 || !last.IsZero() {
		t.Errorf("denied requests counted as activity: %d in flight, last %v", n, last)
	}
}

// Remembered credentials stay remembered while they are in use, and
// requests that bring new ones together all pass.
func TestVerifiedCredentialsWhileInUse(t *testing.T) {
	r := newRouter(t)
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret")}})
	a := (*r.access.Load())["hello"]
	req := httptest.NewRequest("GET", "http://hello.localhost/", nil)
	req.SetBasicAuth("alice", "secret")

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- a.check(req, r.authFails) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a request with new credentials among others: %v", err)
		}
	}

	key := sha256.Sum256([]byte(req.Header.Get("Authorization")))
	a.mu.Lock()
	a.verified[key] = time.Now().Add(time.Second) // about to be forgotten
	a.mu.Unlock()
	if err := a.check(req, r.authFails); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	left := time.Until(a.verified[key])
	a.mu.Unlock()
	if left < verifiedFor-time.Minute {
		t.Errorf("after a use, remembered for %s more, want %s", left, verifiedFor)
	}
}

// The cost of the rules on the request path: an open app, an allowed
// address, and remembered credentials.
func BenchmarkAccessCheck(b *testing.B) {
	r := New(Config{Log: discardLog()})
	r.SetAccess("allow", app.AccessRules{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")}})
	r.SetAccess("auth", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(b, "secret")}})
	req := httptest.NewRequest("GET", "http://x.localhost/", nil)
	req.SetBasicAuth("alice", "secret")
	for _, app := range []string{"open", "allow", "auth"} {
		b.Run(app, func(b *testing.B) {
			for b.Loop() {
				if err := r.denied(app, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Wrong passwords are limited per client address: past the limit the
// address gets 429 with Retry-After, even with the right password, while
// other addresses and remembered credentials still pass.
func TestWrongPasswordsAreLimited(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret"), "bob": hash(t, "secret")}})
	if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.3", "alice", "secret", nil); code != 200 {
		t.Fatalf("right password: got %d", code)
	}
	for i := range maxAuthFailures {
		if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.1", "alice", "guess", nil); code != 401 {
			t.Fatalf("wrong password %d: got %d, want 401", i+1, code)
		}
	}
	for _, tc := range []struct {
		name, src, user, pass string
		want                  int
	}{
		{"wrong password past the limit", "127.0.0.1", "alice", "guess", 429},
		{"a right password from the limited address", "127.0.0.1", "bob", "secret", 429},
		{"credentials verified before, from the limited address", "127.0.0.1", "alice", "secret", 200},
		{"another address", "127.0.0.2", "bob", "secret", 200},
	} {
		code, resp := getFrom(t, front, "hello.localhost", tc.src, tc.user, tc.pass, nil)
		if code != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, code, tc.want)
		}
		if code == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", tc.name)
		}
	}
	if code, _ := getFrom(t, front, "hello.localhost", "127.0.0.1", "", "", nil); code != 401 {
		t.Errorf("no credentials from the limited address: got %d, want 401", code)
	}
}

// Concurrent wrong passwords from one address cannot outrun the limit:
// each guess counts before its bcrypt check runs.
func TestConcurrentGuessesAreLimited(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret")}})
	var wg sync.WaitGroup
	codes := make(chan int, 60)
	for i := range 60 {
		wg.Go(func() {
			code, _ := getFrom(t, front, "hello.localhost", "127.0.0.1", "alice", fmt.Sprintf("guess-%d", i), nil)
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	checked := 0
	for c := range codes {
		if c == 401 {
			checked++
		} else if c != 429 {
			t.Errorf("a guess got %d", c)
		}
	}
	if checked > maxAuthFailures {
		t.Errorf("%d of 60 concurrent guesses were checked, want at most %d", checked, maxAuthFailures)
	}
}

// A request from an app's container does not pass an allowlist that
// covers the container network: apps cannot reach another app's
// protected pages through the router as if from the admin's LAN.
func TestAppNetworksAreNotAllowlisted(t *testing.T) {
	r := New(Config{Log: testLog(t), AppNetworks: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/16")}})
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret")},
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, tc := range []struct {
		from string
		want int
	}{
		{"10.1.2.3:40000", 200},  // the LAN the allowlist is for
		{"10.77.0.9:40000", 401}, // an app's container, inside 10.0.0.0/8
	} {
		req := httptest.NewRequest("GET", "http://hello.localhost/", nil)
		req.RemoteAddr = tc.from
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("from %s: %d, want %d", tc.from, w.Code, tc.want)
		}
	}
}

// Nor does a request from another machine of the cluster, whose
// containers reach this router from its address: an app there cannot
// pass an allowlist that covers the LAN.
func TestClusterPeersAreNotAllowlisted(t *testing.T) {
	r := New(Config{Log: testLog(t), AppNetworks: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/16")}})
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret")},
		Allow: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}})
	get := func(from string) int {
		req := httptest.NewRequest("GET", "http://hello.localhost/", nil)
		req.RemoteAddr = from
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	peer := "192.168.1.20:40000"
	if got := get(peer); got != 200 {
		t.Fatalf("from %s before it is a peer: %d, want 200", peer, got)
	}
	r.SetPeers([]netip.Addr{netip.MustParseAddr("192.168.1.20")})
	for _, tc := range []struct {
		from string
		want int
	}{
		{"192.168.1.10:40000", 200}, // the LAN the allowlist is for
		{peer, 401},                 // a machine of the cluster, inside it
		{"[::ffff:192.168.1.20]:40000", 401},
	} {
		if got := get(tc.from); got != tc.want {
			t.Errorf("from %s: %d, want %d", tc.from, got, tc.want)
		}
	}
	r.SetPeers(nil)
	if got := get(peer); got != 200 {
		t.Errorf("from %s after it left: %d, want 200", peer, got)
	}
}

// Wrong passwords from many addresses of one IPv6 /64 are counted as
// one client's: a /64 is what one host is given.
func TestWrongPasswordsFromOneIPv6Prefix(t *testing.T) {
	r := newRouter(t)
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.SetAccess("hello", app.AccessRules{Auth: true, Users: map[string]string{"alice": hash(t, "secret")}})
	from := func(remote, pass string) int {
		req := httptest.NewRequest(http.MethodGet, "http://hello.localhost/", nil)
		req.RemoteAddr = remote
		req.SetBasicAuth("alice", pass)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range maxAuthFailures {
		if code := from(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1), fmt.Sprintf("guess %d", i)); code != 401 {
			t.Fatalf("wrong password %d: got %d, want 401", i+1, code)
		}
	}
	if code := from("[2001:db8:1:2:ffff::1]:4000", "another guess"); code != 429 {
		t.Errorf("a guess from another address of the /64: got %d, want 429", code)
	}
	if code := from("[2001:db8:1:3::1]:4000", "secret"); code != 200 {
		t.Errorf("the right password from another /64: got %d, want 200", code)
	}
}

// The credentials the router remembers as verified are bounded, however
// many headers pass.
func TestVerifiedCredentialsBounded(t *testing.T) {
	a := &accessRules{auth: true, users: map[string][]byte{"alice": []byte(hash(t, "secret"))},
		verified: map[[sha256.Size]byte]time.Time{}}
	for i := range maxVerified { // as if that many headers had passed
		a.verified[sha256.Sum256([]byte(fmt.Sprintf("header %d", i)))] = time.Now().Add(verifiedFor)
	}
	req := httptest.NewRequest(http.MethodGet, "http://hello.localhost/", nil)
	req.SetBasicAuth("alice", "secret")
	for i := range 2 {
		if !a.verify(req, sha256.Sum256([]byte(fmt.Sprintf("one more %d", i)))) {
			t.Fatalf("verify %d: the right password did not pass", i)
		}
		if n := len(a.verified); n > maxVerified {
			t.Fatalf("%d credentials remembered, want at most %d", n, maxVerified)
		}
	}
}

package pki_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"pier/cluster/pki"
)

// A well-formed token, for tests that need one without a CA.
const (
	testPin    = "fe82637a00fcb0f7d22d78f8c596a82d4e8ab000e82f2fcf4c4ece90db76bf72"
	testID     = "0123456789abcdef"
	testSecret = "00112233445566778899aabbccddeeff"
	testToken  = "PIER1." + testPin + "." + testID + "." + testSecret
)

func TestTokenRoundTrip(t *testing.T) {
	ca := newCA(t, "cluster")
	pin := pki.Pin(ca.Cert())
	s, rec, err := pki.NewToken(pin, pki.RoleWorker, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 120 {
		t.Errorf("got %d bytes, want 120: %q", len(s), s)
	}
	tok, err := pki.ParseToken(s + "\n") // as pasted from a terminal
	if err != nil {
		t.Fatal(err)
	}
	for _, check := range []struct{ name, got, want string }{
		{"pin", tok.Pin, pin},
		{"id", tok.ID, rec.ID},
		{"token", "PIER1." + tok.Pin + "." + tok.ID + "." + tok.Secret, s},
		{"role", string(rec.Role), "worker"},
		{"expires", rec.Expires.String(), now.Add(time.Hour).String()},
		{"logged", tok.String(), "PIER1." + pin + "." + rec.ID + ".<secret>"},
	} {
		if check.got != check.want {
			t.Errorf("%s: got %q, want %q", check.name, check.got, check.want)
		}
	}
	if err := rec.Check(tok, now); err != nil {
		t.Errorf("check: got %q, want no error", err)
	}

	// The record survives the trip through the replicated state, and
	// never holds the secret.
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), tok.Secret) {
		t.Errorf("the stored record %s holds the secret", b)
	}
	var back pki.TokenRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Check(tok, now); err != nil {
		t.Errorf("check after JSON: got %q, want no error", err)
	}

	// Two tokens share nothing.
	s2, rec2, _ := pki.NewToken(pin, pki.RoleWorker, time.Hour, now)
	tok2, _ := pki.ParseToken(s2)
	if tok2.ID == tok.ID || tok2.Secret == tok.Secret {
		t.Errorf("two tokens share an id or a secret: %q, %q", s, s2)
	}
	if err := rec2.Check(tok, now); !errors.Is(err, pki.ErrTokenUnknown) {
		t.Errorf("another token's record: got %v, want %q", err, pki.ErrTokenUnknown)
	}
}

func TestNewTokenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		pin  string
		role pki.Role
		ttl  time.Duration
		want string
	}{
		{"short pin", testPin[:10], pki.RoleServer, time.Hour, "new token: the CA pin is 10 characters long, want 64 hex digits"},
		{"unknown role", testPin, "admin", time.Hour, `new token: role "admin": want server or worker`},
		{"no role", testPin, "", time.Hour, `new token: role "": want server or worker`},
		{"zero lifetime", testPin, pki.RoleServer, 0, "new token: lifetime 0s is not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := pki.NewToken(tc.pin, tc.role, tc.ttl, now)
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	s, rec, err := pki.NewToken(testPin, pki.RoleServer, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pki.ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	forged := tok
	forged.Secret = testSecret
	other := tok
	other.ID = testID
	used := rec
	used.Used = true

	for _, tc := range []struct {
		name string
		rec  pki.TokenRecord
		tok  pki.Token
		at   time.Time
		want error
	}{
		{"fresh", rec, tok, now, nil},
		{"last moment", rec, tok, now.Add(time.Hour - time.Nanosecond), nil},
		{"used", used, tok, now, pki.ErrTokenUsed},
		{"expired", rec, tok, now.Add(time.Hour), pki.ErrTokenExpired},
		{"wrong secret", rec, forged, now, pki.ErrTokenForged},
		{"wrong secret for a used, expired record", used, forged, now.Add(2 * time.Hour), pki.ErrTokenForged},
		{"another token's id", rec, other, now, pki.ErrTokenUnknown},
		{"record without a hash", pki.TokenRecord{ID: rec.ID, Role: rec.Role, Expires: rec.Expires}, tok, now, pki.ErrTokenForged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rec.Check(tc.tok, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "ask for a new one with pier cluster:token on a server") {
				t.Errorf("got %q, want it to say what to do", err)
			}
		})
	}
}

func TestCheckErrorsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for _, err := range []error{pki.ErrTokenUnknown, pki.ErrTokenForged, pki.ErrTokenUsed, pki.ErrTokenExpired} {
		if seen[err.Error()] {
			t.Errorf("two errors read %q", err)
		}
		seen[err.Error()] = true
	}
}

func TestParseTokenMalformed(t *testing.T) {
	const copyAdvice = "; copy the whole token pier cluster:token printed"
	for _, tc := range []struct {
		name, token, want string
	}{
		{"empty", "",
			"malformed join token: it is empty; pass the token pier cluster:token printed"},
		{"blank", " \n",
			"malformed join token: it is empty; pass the token pier cluster:token printed"},
		{"k3s token", "K10" + testPin + "::server:" + testSecret,
			"malformed join token: it does not start with PIER1., so it is not a pier join token" + copyAdvice},
		{"lower case prefix", strings.Replace(testToken, "PIER", "pier", 1),
			"malformed join token: it does not start with PIER1., so it is not a pier join token" + copyAdvice},
		{"no version", strings.Replace(testToken, "PIER1", "PIER", 1),
			"malformed join token: it does not start with PIER1., so it is not a pier join token" + copyAdvice},
		{"version 2", strings.Replace(testToken, "PIER1", "PIER2", 1),
			"malformed join token: it is a version 2 token and this pier reads version 1; use the same pier on both machines"},
		{"three parts", "PIER1." + testPin + "." + testID,
			"malformed join token: it has 3 dot-separated parts, want 4 (PIER1.<pin>.<id>.<secret>)" + copyAdvice},
		{"five parts", testToken + ".x",
			"malformed join token: it has 5 dot-separated parts, want 4 (PIER1.<pin>.<id>.<secret>)" + copyAdvice},
		{"short pin", "PIER1." + testPin[1:] + "." + testID + "." + testSecret,
			"malformed join token: the CA pin is 63 characters long, want 64 hex digits" + copyAdvice},
		{"upper case pin", "PIER1." + strings.ToUpper(testPin) + "." + testID + "." + testSecret,
			"malformed join token: the CA pin has characters other than 0-9 and a-f" + copyAdvice},
		{"id not hex", "PIER1." + testPin + ".0123456789abcdeg." + testSecret,
			`malformed join token: its id "0123456789abcdeg" is not 16 lowercase hex digits` + copyAdvice},
		{"secret cut short", testToken[:len(testToken)-1],
			"malformed join token: its secret is 31 characters, want 32 lowercase hex digits" + copyAdvice},
		{"space inside", strings.Replace(testToken, "."+testID, ". "+testID, 1),
			`malformed join token: its id " 0123456789abcdef" is not 16 lowercase hex digits` + copyAdvice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.ParseToken(tc.token)
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !errors.Is(err, pki.ErrTokenMalformed) {
				t.Errorf("got %q, want it to wrap %q", err, pki.ErrTokenMalformed)
			}
		})
	}
}

func TestParseTokenOversize(t *testing.T) {
	const want = "malformed join token: it is longer than 256 bytes, so it is not a pier join token; " +
		"pass only the token pier cluster:token printed"
	huge := strings.Repeat(testToken, 1<<14) // 2 MB
	var err error
	// Refused before any work: no split, no copy, no error built.
	if allocs := testing.AllocsPerRun(100, func() { _, err = pki.ParseToken(huge) }); allocs != 0 {
		t.Errorf("got %v allocations, want 0", allocs)
	}
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if !errors.Is(err, pki.ErrTokenMalformed) {
		t.Errorf("got %q, want it to wrap %q", err, pki.ErrTokenMalformed)
	}

	padded := testToken + strings.Repeat(" ", pki.MaxTokenLen-len(testToken))
	if _, err := pki.ParseToken(padded); err != nil {
		t.Errorf("%d bytes: got %q, want it read", len(padded), err)
	}
	if _, err := pki.ParseToken(padded + " "); err == nil || err.Error() != want {
		t.Errorf("%d bytes: got %v, want %q", len(padded)+1, err, want)
	}
}

func TestParseRole(t *testing.T) {
	for _, tc := range []struct{ in, want, wantErr string }{
		{"server", "server", ""},
		{"worker", "worker", ""},
		{"Server", "", `role "Server": want server or worker`},
	} {
		got, err := pki.ParseRole(tc.in)
		if string(got) != tc.want || (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
			t.Errorf("ParseRole(%q): got %q, %v, want %q, %q", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// FuzzParseToken checks that ParseToken never panics, that whatever it
// refuses wraps ErrTokenMalformed, and that whatever it reads is a token in
// its one canonical form.
func FuzzParseToken(f *testing.F) {
	f.Add(testToken)
	f.Add(" " + testToken + "\n")
	f.Add("PIER1...")
	f.Add("PIER9." + testPin)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := pki.ParseToken(s)
		if err != nil {
			if !errors.Is(err, pki.ErrTokenMalformed) {
				t.Fatalf("ParseToken(%q): got %q, want it to wrap %q", s, err, pki.ErrTokenMalformed)
			}
			return
		}
		if len(s) > pki.MaxTokenLen {
			t.Fatalf("ParseToken read %d bytes, more than %d", len(s), pki.MaxTokenLen)
		}
		canonical := "PIER1." + tok.Pin + "." + tok.ID + "." + tok.Secret
		if got, want := strings.TrimSpace(s), canonical; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if len(tok.Pin) != pki.PinLen || len(tok.ID) != 16 || len(tok.Secret) != 32 {
			t.Fatalf("ParseToken(%q) = %+v: a part of the wrong length", s, tok)
		}
	})
}

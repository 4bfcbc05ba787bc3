package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A join token reads PIER1.<pin>.<id>.<secret>:
//
//	PIER1   the format and its version
//	pin     the CA's pin (see Pin), 64 lowercase hex digits: the joiner
//	        trusts only a server that proves it holds this CA
//	id      64 random bits as 16 lowercase hex digits: names the TokenRecord
//	secret  128 random bits as 32 lowercase hex digits: proves the holder was
//	        given the token
//
// 120 bytes in all, lowercase hex throughout: one alphabet that no shell,
// URL or terminal treats specially, and a pin that reads like sha256sum's
// output.
const (
	tokenPrefix    = "PIER"
	tokenVersion   = "1"
	tokenIDLen     = 16
	tokenSecretLen = 32
)

// MaxTokenLen is the longest input ParseToken reads; anything longer is
// refused before it is looked at.
const MaxTokenLen = 256

// DefaultTokenTTL is how long a token is valid unless its maker says
// otherwise.
const DefaultTokenTTL = time.Hour

// A Role is what a token admits a node as.
type Role string

const (
	// RoleServer nodes hold the replicated state and may sign joins.
	RoleServer Role = "server"
	// RoleWorker nodes run apps and hold no cluster state.
	RoleWorker Role = "worker"
)

// ParseRole returns the role named s, "server" or "worker".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleServer, RoleWorker:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want %s or %s", trim(s), RoleServer, RoleWorker)
}

// A Token is a join token as the joiner holds it, read by ParseToken. Its
// fields are well-formed but unchecked: only TokenRecord.Check, on a server,
// says whether the token admits anyone.
type Token struct {
	Pin    string // the CA's pin, for PinnedTLS
	ID     string // names the TokenRecord
	Secret string // proves the token was given; never log it
}

// String returns the token with its secret left out, so that logging a
// Token does not leak it. The whole token exists only as the string
// NewToken returned.
func (t Token) String() string {
	return tokenPrefix + tokenVersion + "." + t.Pin + "." + t.ID + ".<secret>"
}

func (t Token) encode() string {
	return tokenPrefix + tokenVersion + "." + t.Pin + "." + t.ID + "." + t.Secret
}

// A TokenRecord is what the cluster stores about a token: enough to check it,
// not enough to make it. It holds the SHA-256 of the secret, not the secret;
// a plain hash suffices because the secret is 128 random bits, not a
// password.
type TokenRecord struct {
	ID         string    `json:"id"`
	SecretHash []byte    `json:"secret_sha256"` // SHA-256 of Token.Secret as written in the token
	Role       Role      `json:"role"`
	Expires    time.Time `json:"expires"` // UTC; the token is refused from this instant on
	Used       bool      `json:"used"`
}

// Errors of TokenRecord.Check, for callers to branch on. Their text is
// written for the user who ran pier cluster:join: a join endpoint can send it
// back as it is.
var (
	ErrTokenUnknown = errors.New("join token unknown to this cluster: it was never made here, or it was removed; " +
		"ask for a new one with pier cluster:token on a server")
	ErrTokenForged = errors.New("join token refused: its secret is not the one this cluster made; " +
		"copy the whole token, or ask for a new one with pier cluster:token on a server")
	ErrTokenUsed = errors.New("join token already used: a token admits one node; " +
		"ask for a new one with pier cluster:token on a server")
	ErrTokenExpired = errors.New("join token expired: " +
		"ask for a new one with pier cluster:token on a server (--ttl makes it last longer)")
)

// ErrTokenMalformed is wrapped by every error of ParseToken; the wrapping
// error says what is wrong with the string.
var ErrTokenMalformed = errors.New("malformed join token")

// errTokenTooLong is made once so that refusing oversize input costs nothing.
var errTokenTooLong = fmt.Errorf("%w: it is longer than %d bytes, so it is not a pier join token; "+
	"pass only the token pier cluster:token printed", ErrTokenMalformed, MaxTokenLen)

const adviceCopy = "copy the whole token pier cluster:token printed"

// NewToken makes a join token for the cluster whose CA has pin pin, admitting
// one node as role until ttl after now. It returns the token, to give to the
// user once, and the record for the cluster to store.
func NewToken(pin string, role Role, ttl time.Duration, now time.Time) (string, TokenRecord, error) {
	if err := checkPinSyntax(pin); err != nil {
		return "", TokenRecord{}, fmt.Errorf("new token: %w", err)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", TokenRecord{}, fmt.Errorf("new token: %w", err)
	}
	if ttl <= 0 {
		return "", TokenRecord{}, fmt.Errorf("new token: lifetime %v is not positive", ttl)
	}
	tok := Token{Pin: pin, ID: randomHex(tokenIDLen / 2), Secret: randomHex(tokenSecretLen / 2)}
	sum := sha256.Sum256([]byte(tok.Secret))
	rec := TokenRecord{
		ID:         tok.ID,
		SecretHash: sum[:],
		Role:       role,
		Expires:    now.Add(ttl).UTC(),
	}
	return tok.encode(), rec, nil
}

// ParseToken reads a join token, ignoring spaces and newlines around it. It
// checks the form alone; every error wraps ErrTokenMalformed and says what is
// wrong. Input longer than MaxTokenLen is refused before it is read.
func ParseToken(s string) (Token, error) {
	if len(s) > MaxTokenLen {
		return Token{}, errTokenTooLong
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Token{}, fmt.Errorf("%w: it is empty; pass the token pier cluster:token printed", ErrTokenMalformed)
	}
	parts := strings.Split(s, ".")
	if version, ok := strings.CutPrefix(parts[0], tokenPrefix); !ok || version == "" || !isDigits(version) {
		return Token{}, fmt.Errorf("%w: it does not start with %s%s., so it is not a pier join token; %s",
			ErrTokenMalformed, tokenPrefix, tokenVersion, adviceCopy)
	} else if version != tokenVersion {
		return Token{}, fmt.Errorf("%w: it is a version %s token and this pier reads version %s; "+
			"use the same pier on both machines", ErrTokenMalformed, trim(version), tokenVersion)
	}
	if len(parts) != 4 {
		return Token{}, fmt.Errorf("%w: it has %d dot-separated parts, want 4 (%s%s.<pin>.<id>.<secret>); %s",
			ErrTokenMalformed, len(parts), tokenPrefix, tokenVersion, adviceCopy)
	}
	tok := Token{Pin: parts[1], ID: parts[2], Secret: parts[3]}
	if err := checkPinSyntax(tok.Pin); err != nil {
		return Token{}, fmt.Errorf("%w: %v; %s", ErrTokenMalformed, err, adviceCopy)
	}
	if len(tok.ID) != tokenIDLen || !isLowerHex(tok.ID) {
		return Token{}, fmt.Errorf("%w: its id %q is not %d lowercase hex digits; %s",
			ErrTokenMalformed, trim(tok.ID), tokenIDLen, adviceCopy)
	}
	if len(tok.Secret) != tokenSecretLen || !isLowerHex(tok.Secret) {
		// The secret is not echoed: it may be a real one, mistyped.
		return Token{}, fmt.Errorf("%w: its secret is %d characters, want %d lowercase hex digits; %s",
			ErrTokenMalformed, len(tok.Secret), tokenSecretLen, adviceCopy)
	}
	return tok, nil
}

// Check returns nil if tok is the token rec records and it may still admit a
// node at now, and otherwise ErrTokenUnknown (tok is not rec's),
// ErrTokenForged (the secret is wrong), ErrTokenUsed or ErrTokenExpired.
// The secret is compared in constant time and first, so that without it
// nothing is learnt about the record.
//
// Check only reads rec. Two joiners may present one token at once: the
// caller must mark the record used in the same step that checks it (in the
// replicated state machine, which applies commands one at a time, checking
// again there), so that one join alone gets through.
func (rec TokenRecord) Check(tok Token, now time.Time) error {
	if tok.ID != rec.ID {
		return ErrTokenUnknown
	}
	sum := sha256.Sum256([]byte(tok.Secret))
	if subtle.ConstantTimeCompare(sum[:], rec.SecretHash) != 1 {
		return ErrTokenForged
	}
	if rec.Used {
		return ErrTokenUsed
	}
	if !now.Before(rec.Expires) {
		return ErrTokenExpired
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

package web_test

import (
	"testing"

	"pier/web"
)

func TestLoginToken(t *testing.T) {
	var svc web.LoginTokens
	tok, exp := svc.NewLoginToken()
	if len(tok) < 40 || exp.Sub(exp.Add(-web.LoginTokenTTL)) != web.LoginTokenTTL {
		t.Fatalf("token %q expires %v", tok, exp)
	}
	if other, _ := svc.NewLoginToken(); other == tok {
		t.Fatal("two tokens are equal")
	}
	if svc.RedeemLoginToken(tok + "x") {
		t.Error("a wrong token was accepted")
	}
	if !svc.RedeemLoginToken(tok) {
		t.Fatal("a fresh token was refused")
	}
	if svc.RedeemLoginToken(tok) {
		t.Error("a token was accepted twice")
	}
	if svc.RedeemLoginToken("") {
		t.Error("the empty token was accepted")
	}
}

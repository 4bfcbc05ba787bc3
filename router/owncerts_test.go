package router

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"pier/app"
)

func ownCert(t *testing.T, notAfter time.Time, names ...string) app.AppCert {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	return app.AppCert{
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})),
	}
}

// An app's own certificate is served for its hosts alone, whatever other
// names it carries: an app cannot take over another's TLS.
func TestOwnCertificateStaysWithItsApp(t *testing.T) {
	r := New(Config{Domain: "example.com", Log: testLog(t)})
	r.Set("shop", []string{"127.0.0.1:1"})
	r.Set("bank", []string{"127.0.0.1:2"})
	r.SetDomains("shop", []string{"www.shop.test"})
	c := ownCert(t, time.Now().Add(time.Hour), "shop.example.com", "www.shop.test", "bank.example.com", "*.example.com")
	if err := r.SetCertificate("shop", c); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"shop.example.com": true, "www.shop.test": true, "SHOP.example.com.": true,
		"bank.example.com": false, "pier.example.com": false, "nothing.example.com": false,
	} {
		if got := r.ownCertificate(host) != nil; got != want {
			t.Errorf("%s gets shop's certificate: %v, want %v", host, got, want)
		}
	}
	if err := r.SetCertificate("shop", app.AppCert{}); err != nil || r.ownCertificate("shop.example.com") != nil {
		t.Errorf("after removal: %v, %v", err, r.ownCertificate("shop.example.com"))
	}
	if err := r.SetCertificate("shop", ownCert(t, time.Now().Add(-time.Hour), "shop.example.com")); err == nil {
		t.Error("an expired certificate was taken")
	}
	if _, err := app.ParseAppCert(app.AppCert{CertPEM: c.CertPEM, KeyPEM: ownCert(t, time.Now().Add(time.Hour), "x.test").KeyPEM}); err == nil {
		t.Error("a certificate with another's key was taken")
	}
}

package router

import "testing"

func TestCustomDomains(t *testing.T) {
	r := newRouter(t)
	front := serve(t, r)
	r.Set("hello", []string{namedBackend(t, "hello")})
	r.Set("other", []string{namedBackend(t, "other")})
	r.SetDomains("hello", []string{"www.example.com", "example.com"})

	for _, tc := range []struct{ host, want string }{
		{"www.example.com", "hello"},
		{"WWW.Example.com.", "hello"},
		{"example.com:8080", "hello"},
		{"hello.localhost", "hello"},
		{"other.localhost", "other"},
	} {
		if code, body := get(t, front, tc.host, "/", nil); code != 200 || body != tc.want {
			t.Errorf("%s: got %d %q, want %q", tc.host, code, body, tc.want)
		}
	}
	if code, _ := get(t, front, "nope.example.com", "/", nil); code != 404 {
		t.Errorf("an unknown domain: %d, want 404", code)
	}

	r.SetDomains("other", []string{"www.example.com"}) // moves
	r.SetDomains("hello", []string{"example.com"})
	if code, body := get(t, front, "www.example.com", "/", nil); code != 200 || body != "other" {
		t.Errorf("a moved domain: got %d %q, want other", code, body)
	}
	r.Delete("other")
	if code, _ := get(t, front, "www.example.com", "/", nil); code != 404 {
		t.Errorf("a deleted app's domain: %d, want 404", code)
	}
	if code, body := get(t, front, "example.com", "/", nil); code != 200 || body != "hello" {
		t.Errorf("another app's domain after a delete: got %d %q", code, body)
	}
}

package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// Every change survives the trip through the log's encoding unchanged.
func TestChangeCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 123, time.UTC)
	rel := Release{App: "hello", Version: 3, Image: "img", Stack: "node", Commit: "abc", Static: "/app/dist",
		Processes: map[string]string{"web": "node server.js"}, Config: map[string]string{"A": "1"},
		Manifest: Manifest{Formation: map[string]int{"web": 2}, Pier: PierSettings{MemoryMiB: 256,
			Sleep: &SleepPolicy{After: time.Minute}}},
		Cron:        []CronEntry{{ID: "c1", Schedule: "@daily", Command: "x", Policy: CronForbid, Timeout: time.Hour}},
		Description: "deploy abc", CreatedBy: "laptop", CreatedAt: at}
	changes := []Change{
		CreateApp{App: App{Name: "hello", CreatedAt: at}},
		PutRelease{Release: rel},
		AddKey{Key: Key{Name: "ci", Fingerprint: "SHA256:x", PublicKey: "ssh-ed25519 AAAA", App: "hello", CreatedAt: at}},
		RemoveKey{Name: "ci"},
		SetConfig{App: "hello", Config: map[string]string{"A": "1", "B": ""}},
		SetFormation{App: "hello", Formation: map[string]int{"web": 3, "worker": 0}},
		SetStopped{App: "hello", Stopped: true},
		SetVolumes{App: "hello", Volumes: []Volume{{Name: "data", Path: "/data"}}},
		DeleteReleases{App: "hello", Versions: []int{1, 2}},
		SetSleepPolicy{App: "hello", Policy: &SleepPolicy{Never: true}},
		SetSleepPolicy{App: "hello"},
		SetSleepState{App: "hello", State: Frozen},
		SetLimits{App: "hello", Limits: Limits{MemoryMiB: 512, CPU: 0.5}},
		DestroyApp{Name: "hello"},
		RenameApp{From: "hello", To: "greeter"},
		AddDomain{App: "hello", Domain: "www.example.com"},
		RemoveDomain{App: "hello", Domain: "www.example.com"},
		SetAccess{App: "hello", Access: Access{Auth: true, Users: map[string]string{"alice": "$2a$..."}, Allow: []string{"10.0.0.0/8"}}},
		SetCronSuspended{App: "hello", IDs: []string{"*"}},
		SetSetting{Key: "admin_password", Value: "$2a$..."},
		AddJoinToken{Token: JoinToken{ID: "ab12", SecretHash: []byte{1, 2, 3}, Role: "worker", Expires: at}},
		UseJoinToken{ID: "ab12"},
	}
	for _, c := range changes {
		b, err := EncodeChange(c)
		if err != nil {
			t.Fatalf("encode %T: %v", c, err)
		}
		got, err := DecodeChange(b)
		if err != nil {
			t.Fatalf("decode %T from %s: %v", c, b, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%T: got %+v, want %+v", c, got, c)
		}
	}
	if _, err := EncodeChange(Resync{}); err == nil {
		t.Error("a Resync was encoded: it is no change the log carries")
	}
	for _, bad := range []string{`{"type":"DropTables","change":{}}`, `{"type":"SetConfig","change":[1]}`, `nope`} {
		if _, err := DecodeChange([]byte(bad)); err == nil {
			t.Errorf("DecodeChange(%s) succeeded", bad)
		}
	}
}

// Every type with an isChange method is one the log can carry (but Resync,
// which only a watch hands out).
func TestEveryChangeIsEncodable(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "isChange" || fn.Recv == nil {
				continue
			}
			name := fn.Recv.List[0].Type.(*ast.Ident).Name
			if _, ok := changeTypes[name]; !ok && name != "Resync" {
				t.Errorf("%s is a Change that EncodeChange does not know: add it to changeTypes", name)
			}
		}
	}
}

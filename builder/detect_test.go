package builder

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		wantStack string
		wantWeb   string
		wantErr   error
	}{
		{"node start script", map[string]string{"package.json": `{"scripts":{"start":"node app.js --port $PORT"}}`},
			"node", "node app.js --port $PORT", nil},
		{"node main", map[string]string{"package.json": `{"main":"srv.js"}`, "srv.js": ""}, "node", "node 'srv.js'", nil},
		{"node server.js", map[string]string{"package.json": `{}`, "server.js": ""}, "node", "node server.js", nil},
		{"node without entry point", map[string]string{"package.json": `{}`}, "node", "", nil},
		{"python requirements", map[string]string{"requirements.txt": "flask\n", "app.py": ""}, "python", "python3 app.py", nil},
		{"python stdlib", map[string]string{"main.py": ""}, "python", "python3 main.py", nil},
		{"procfile only", map[string]string{"Procfile": "web: ./run.sh\n"}, "procfile", "", nil},
		{"node wins over procfile", map[string]string{"package.json": `{}`, "Procfile": "web: x\n"}, "node", "", nil},
		{"nothing", map[string]string{"README.md": "hi"}, "", "", ErrUnknownStack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			st, err := Detect(dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if st.Name != tt.wantStack || st.Processes["web"] != tt.wantWeb {
				t.Fatalf("got %q web %q, want %q web %q", st.Name, st.Processes["web"], tt.wantStack, tt.wantWeb)
			}
		})
	}
}

func TestDetectBadPackageJSON(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "package.json"), []byte("{not json"), 0o644)
	if _, err := Detect(dir); err == nil {
		t.Fatal("got nil error for a malformed package.json")
	}
}
